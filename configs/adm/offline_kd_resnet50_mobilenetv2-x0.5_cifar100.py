# Offline KD + ADM on CIFAR-100, ResNet-50 -> 0.5 MobileNetV2 (ADM paper,
# Table 8: teacher 79.34, student 64.60, KD 68.42 -> KD+ADM 69.04 top-1). As
# offline_kd_wrn-16-2_mobilenetv2-x0.5_cifar100.py (total batch 64 = 1 GPU x
# 64, 240 epochs, lr 0.01, adapter probe) with the CIFAR ResNet-50 of the
# CRD benchmark as teacher: mmpretrain's ResNet_CIFAR depth 50 (3x3 stem, no
# max-pool, 23,705,252 parameters with the 100-class head, as CRD's).
_base_ = ['./offline_kd_wrn-16-2_mobilenetv2-x0.5_cifar100.py']

teacher_ckpt = 'checkpoints/resnet50_cifar100.pth'
model = dict(
    peers=dict(
        teacher=dict(
            backbone=dict(
                _delete_=True, type='mmpretrain.ResNet_CIFAR', depth=50),
            head=dict(in_channels=2048),
            init_cfg=dict(checkpoint=teacher_ckpt))),
    distiller=dict(channels=dict(student=1280, teacher=2048)))
