# SwitOKD (Qian et al., ECCV 2022), ResNet-18 (teacher) / 0.5 MobileNetV2
# (student), ImageNet-1k: the DML config's networks, losses (tau = 1, lambda =
# 1), schedule and total batch (256 = 8 GPUs x 32), with SwitOKD's per-batch
# switch (teacher paused in expert mode, rule of the authors' code). ADM paper
# Table 4: SwitOKD 63.94 / 68.81.
_base_ = ['../dml/resnet18_mobilenetv2-x0.5_in1k.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
