# Offline KD + ADM on CIFAR-100, ResNet-56 -> ResNet-20 (ADM paper, Table 8:
# teacher 72.34, student 69.06, KD 71.05 -> KD+ADM 71.46 top-1). As
# offline_kd_resnet32x4_resnet8x4_cifar100.py (0.1 x CE + 0.9 x KD at tau =
# 4, ADM alpha / beta / gamma = 1.0 / 0 / 0; total batch 64 = 1 GPU x 64,
# 240 epochs, SGD lr 0.05 x0.1 at 150 / 180 / 210, wd 5e-4) with this pair;
# both give 64-channel features, so no adapter.
_base_ = ['./offline_kd_resnet32x4_resnet8x4_cifar100.py']

teacher_ckpt = 'checkpoints/resnet56_cifar100.pth'
model = dict(
    peers=dict(
        student=dict(
            backbone=dict(arch='resnet20'), head=dict(in_channels=64)),
        teacher=dict(
            backbone=dict(arch='resnet56'),
            head=dict(in_channels=64),
            init_cfg=dict(checkpoint=teacher_ckpt))),
    distiller=dict(channels=dict(student=64, teacher=64)))
