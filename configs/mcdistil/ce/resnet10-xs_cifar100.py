# CE warm start of resnet10_xs for MC-Distil on CIFAR-100: total batch
# 800 = 1 GPU x 800, 200 epochs (see the base). The authors' runner_ce.sh
# reports 42.99 top-1.
_base_ = ['../../_base_/mcdistil_ce_cifar100_bs800_200e.py']

model = dict(backbone=dict(arch='resnet10_xs'), head=dict(in_channels=32))
