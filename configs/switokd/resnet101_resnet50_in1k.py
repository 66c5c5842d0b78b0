# SwitOKD (Qian et al., ECCV 2022), ResNet-101 (teacher) / ResNet-50 (student),
# ImageNet-1k: the DML config's networks, losses (tau = 1, lambda = 1),
# schedule and total batch (256 = 8 GPUs x 32), with SwitOKD's per-batch switch
# (teacher paused in expert mode, rule of the authors' code). ADM paper Table
# 3: SwitOKD 76.78 / 78.00.
_base_ = ['../dml/resnet101_resnet50_in1k.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
