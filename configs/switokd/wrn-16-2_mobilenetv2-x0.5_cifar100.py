# SwitOKD (Qian et al., ECCV 2022), WRN-16-2 (teacher) / 0.5 MobileNetV2
# (student), CIFAR-100: the DML config's networks, losses (tau = 1, lambda =
# 1), schedule and total batch (128 = 1 GPU x 128, lr 0.01), with SwitOKD's
# per-batch switch (teacher paused in expert mode, rule of the authors' code).
# ADM paper Table 2: SwitOKD 66.68 / 73.55.
_base_ = ['../dml/wrn-16-2_mobilenetv2-x0.5_cifar100.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
