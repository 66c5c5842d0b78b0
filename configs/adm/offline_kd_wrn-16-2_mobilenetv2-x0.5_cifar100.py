# Offline KD + ADM on CIFAR-100, WRN-16-2 -> 0.5 MobileNetV2 (ADM paper,
# Table 8: teacher 73.26, student 64.60, KD 68.91 -> KD+ADM 70.24 top-1). As
# offline_kd_resnet32x4_resnet8x4_cifar100.py (0.1 x CE + 0.9 x KD at tau =
# 4, ADM alpha / beta / gamma = 1.0 / 0 / 0; total batch 64 = 1 GPU x 64,
# 240 epochs, x0.1 at 150 / 180 / 210, wd 5e-4) with this pair and lr 0.01
# (the CRD convention for MobileNetV2 students). Features differ (1280 vs
# 128 channels): the 1x1 adapter of the similarity map is fitted as a probe
# on the detached student feature (adapter_probe_weight = 1), which the
# paper leaves unspecified.
_base_ = ['./offline_kd_resnet32x4_resnet8x4_cifar100.py']

teacher_ckpt = 'checkpoints/wrn-16-2_cifar100.pth'
model = dict(
    peers=dict(
        student=dict(
            backbone=dict(
                _delete_=True, type='mmokd.CIFARMobileNetV2',
                width_mult=0.5),
            head=dict(in_channels=1280)),
        teacher=dict(
            backbone=dict(
                _delete_=True, type='mmokd.CIFARWideResNet',
                arch='wrn_16_2'),
            head=dict(in_channels=128),
            init_cfg=dict(checkpoint=teacher_ckpt))),
    distiller=dict(
        channels=dict(student=1280, teacher=128), adapter_probe_weight=1.0))
optim_wrapper = dict(student=dict(optimizer=dict(lr=0.01)))
