# SwitOKD (Qian et al., ECCV 2022), VGG-13 (teacher) / VGG-8 (student),
# CIFAR-100: the DML config's networks, losses (tau = 1, lambda = 1), schedule
# and total batch (128 = 1 GPU x 128), with SwitOKD's per-batch switch (teacher
# paused in expert mode, rule of the authors' code). ADM paper Table 1: SwitOKD
# 72.71 / 75.64.
_base_ = ['../dml/vgg13_vgg8_cifar100.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
