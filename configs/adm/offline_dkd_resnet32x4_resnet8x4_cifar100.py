# Offline DKD + ADM on CIFAR-100 (ADM paper, Sec. 5.5, Table 8: DKD 76.24 ->
# DKD+ADM 76.66 top-1): as offline_kd_resnet32x4_resnet8x4_cifar100.py with
# CE (weight 1.0) + MMRazor's DKDLoss (tau = 4, alpha = 1, beta = 8, see
# ../_base_/offline_dkd_cifar100.py) instead of KD; ADM alpha = 1.0. Total
# batch 64 = 1 GPU x 64, 240 epochs.
_base_ = [
    './offline_kd_resnet32x4_resnet8x4_cifar100.py',
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
