# DML, VGG-13 (teacher) <-> VGG-8 (student), CIFAR-100, total batch
# 128 = 1 GPU x 128, 300 epochs, lr 0.1 (x0.1 at 140/200/250), wd 5e-4,
# tau = 1, lambda = 1 (ADM paper, Sec. 5.1; Table 1: DML 72.45 / 76.19).
_base_ = ['../_base_/online_cifar100_bs128_300e.py']

student = dict(
    _base_.cifar_classifier,
    backbone=dict(type='mmokd.CIFARVGG', arch='vgg8'),
    head=dict(_base_.cifar_head, in_channels=512))
teacher = dict(
    student,
    backbone=dict(type='mmokd.CIFARVGG', arch='vgg13'),
    head=dict(_base_.cifar_head, in_channels=512))

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(student=student, teacher=teacher),
    logits='head.fc',
    dml_loss=dict(type='DMLLoss', tau=1.0, loss_weight=1.0))
