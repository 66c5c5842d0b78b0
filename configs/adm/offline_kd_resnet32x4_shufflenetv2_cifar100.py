# Offline KD + ADM on CIFAR-100, ResNet32x4 -> ShuffleNetV2 (ADM paper,
# Table 8: teacher 79.42, student 71.82, KD 75.35 -> KD+ADM 75.73 top-1). As
# offline_kd_resnet32x4_resnet8x4_cifar100.py (0.1 x CE + 0.9 x KD at tau =
# 4, ADM alpha / beta / gamma = 1.0 / 0 / 0; total batch 64 = 1 GPU x 64,
# 240 epochs, x0.1 at 150 / 180 / 210, wd 5e-4) with this student and lr
# 0.01 (the CRD convention for ShuffleNets). Features differ (1024 vs 256
# channels): the 1x1 adapter of the similarity map is fitted as a probe on
# the detached student feature (adapter_probe_weight = 1), which the paper
# leaves unspecified.
_base_ = ['./offline_kd_resnet32x4_resnet8x4_cifar100.py']

model = dict(
    peers=dict(
        student=dict(
            backbone=dict(
                _delete_=True, type='mmokd.CIFARShuffleNetV2',
                widen_factor=1.0),
            head=dict(in_channels=1024))),
    distiller=dict(
        channels=dict(student=1024, teacher=256), adapter_probe_weight=1.0))
optim_wrapper = dict(student=dict(optimizer=dict(lr=0.01)))
