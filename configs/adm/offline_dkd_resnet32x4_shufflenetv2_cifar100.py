# Offline DKD + ADM on CIFAR-100, ResNet32x4 -> ShuffleNetV2 (ADM paper, Table
# 8: DKD 77.07 -> DKD+ADM 77.03 top-1): CE + MMRazor's DKDLoss (tau = 4, alpha
# = 1, beta = 8) + ADM alpha = 1.0; schedule, total batch 64 and adapter probe
# of offline_kd_resnet32x4_shufflenetv2_cifar100.py.
_base_ = [
    './offline_kd_resnet32x4_shufflenetv2_cifar100.py',
    '../_base_/offline_dkd_cifar100.py'
]

model = dict(
    peers=dict(
        student=dict(
            head=dict(loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))),
    distiller=dict(
        losses=dict(student=dict(_delete_=True, loss_dkd=_base_.loss_dkd)),
        loss_forward_mappings=dict(
            student=dict(_delete_=True, loss_dkd=_base_.loss_dkd_mapping))))
