# Offline DKD + ADM on CIFAR-100, ResNet-50 -> 0.5 MobileNetV2 (ADM paper,
# Table 8: DKD 70.35 -> DKD+ADM 70.64 top-1): CE + MMRazor's DKDLoss (tau = 4,
# alpha = 1, beta = 8) + ADM alpha = 1.0; schedule, total batch 64 and adapter
# probe of offline_kd_resnet50_mobilenetv2-x0.5_cifar100.py.
_base_ = [
    './offline_kd_resnet50_mobilenetv2-x0.5_cifar100.py',
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
