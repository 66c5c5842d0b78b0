# Offline DKD + ADM on CIFAR-100, ResNet-56 -> ResNet-20 (ADM paper, Table 8:
# DKD 71.52 -> DKD+ADM 71.58 top-1): CE + DKDLoss with beta = 2 (the DKD
# authors' value for this pair) + ADM alpha = 1.0; schedule of
# offline_kd_resnet56_resnet20_cifar100.py (total batch 64, 240 epochs).
_base_ = [
    './offline_kd_resnet56_resnet20_cifar100.py',
    '../_base_/offline_dkd_cifar100.py'
]

model = dict(
    peers=dict(
        student=dict(
            head=dict(loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))),
    distiller=dict(
        losses=dict(
            student=dict(
                _delete_=True, loss_dkd=dict(_base_.loss_dkd, beta=2.0))),
        loss_forward_mappings=dict(
            student=dict(_delete_=True, loss_dkd=_base_.loss_dkd_mapping))))
