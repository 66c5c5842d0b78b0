# SwitOKD (Qian et al., ECCV 2022), ResNet32x4 (teacher) / ShuffleNetV2
# (student), CIFAR-100: the DML config's networks, losses (tau = 1, lambda =
# 1), schedule and total batch (128 = 1 GPU x 128), with SwitOKD's per-batch
# switch (teacher paused in expert mode, rule of the authors' code). ADM paper
# Table 2: SwitOKD 75.18 / 79.90.
_base_ = ['../dml/resnet32x4_shufflenetv2_cifar100.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
