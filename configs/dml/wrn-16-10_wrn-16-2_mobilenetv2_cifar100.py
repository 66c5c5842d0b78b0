# DML with three networks (ADM paper Table 11): WRN-16-10 ("teacher"),
# WRN-16-2 ("assistant") and MobileNetV2 ("student", width 1.0: the paper's
# vanilla 66.01 differs from the 0.5-width 60.39 of its Table 2), CIFAR-100,
# total batch 128 = 1 GPU x 128, 300 epochs, wd 5e-4, tau = 1, lambda = 1;
# each network learns from the mean of the other two (DML's cohort form).
# Each network has its own optimizer: lr 0.1 for the WRNs, 0.01 for
# MobileNetV2 (ADM paper, Sec. 5.1). Paper DML: 72.28 / 74.78 / 80.32.
_base_ = ['../_base_/online_cifar100_bs128_300e.py']

student = dict(
    _base_.cifar_classifier,
    backbone=dict(type='mmokd.CIFARMobileNetV2', width_mult=1.0),
    head=dict(_base_.cifar_head, in_channels=1280))
assistant = dict(
    student,
    backbone=dict(type='mmokd.CIFARWideResNet', depth=16, widen_factor=2),
    head=dict(_base_.cifar_head, in_channels=128))
teacher = dict(
    student,
    backbone=dict(type='mmokd.CIFARWideResNet', depth=16, widen_factor=10),
    head=dict(_base_.cifar_head, in_channels=640))

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(student=student, assistant=assistant, teacher=teacher),
    logits='head.fc',
    dml_loss=dict(
        type='DMLLoss', tau=1.0, loss_weight=1.0, peer_reduction='mean'))

sgd_mobilenet = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
optim_wrapper = dict(
    student=sgd_mobilenet, assistant=_base_.sgd, teacher=_base_.sgd)
