# DML, WRN-16-2 (teacher) <-> 0.5 MobileNetV2 (student), CIFAR-100, total batch
# 128 = 1 GPU x 128, 300 epochs, lr 0.01 (x0.1 at 140/200/250), wd 5e-4,
# tau = 1, lambda = 1 (ADM paper, Sec. 5.1; Table 2: DML 66.69 / 73.59).
_base_ = ['../_base_/online_cifar100_bs128_300e.py']

# MobileNetV2 pairs use lr 0.01 (ADM paper, Sec. 5.1).
sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
optim_wrapper = dict(student=sgd, teacher=sgd)

student = dict(
    _base_.cifar_classifier,
    backbone=dict(type='mmokd.CIFARMobileNetV2', width_mult=0.5),
    head=dict(_base_.cifar_head, in_channels=1280))
teacher = dict(
    student,
    backbone=dict(type='mmokd.CIFARWideResNet', arch='wrn_16_2'),
    head=dict(_base_.cifar_head, in_channels=128))

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(student=student, teacher=teacher),
    logits='head.fc',
    dml_loss=dict(type='DMLLoss', tau=1.0, loss_weight=1.0))
