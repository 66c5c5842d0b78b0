# DML, ResNet32x4 (teacher) <-> ResNet8x4 (student), CIFAR-100, total batch
# 128 = 1 GPU x 128, 300 epochs, lr 0.1 (x0.1 at 140/200/250), wd 5e-4,
# tau = 1, lambda = 1 (ADM paper, Sec. 5.1; Table 1: DML 73.95 / 79.99).
_base_ = ['../_base_/online_cifar100_bs128_300e.py']

student = dict(
    _base_.cifar_classifier,
    backbone=dict(type='mmokd.CIFARResNet', arch='resnet8x4'),
    head=dict(_base_.cifar_head, in_channels=256))
teacher = dict(
    student, backbone=dict(type='mmokd.CIFARResNet', arch='resnet32x4'))

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(student=student, teacher=teacher),
    logits='head.fc',
    dml_loss=dict(type='DMLLoss', tau=1.0, loss_weight=1.0))
