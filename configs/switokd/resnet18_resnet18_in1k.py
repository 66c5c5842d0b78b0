# SwitOKD (Qian et al., ECCV 2022), ResNet-18 ("teacher") / ResNet-18
# (student), ImageNet-1k: the DML config's networks, losses (tau = 1, lambda =
# 1), schedule and total batch (256 = 8 GPUs x 32), with SwitOKD's per-batch
# switch (teacher paused in expert mode, rule of the authors' code). ADM paper
# Table 3: SwitOKD 70.70 / 70.63.
_base_ = ['../dml/resnet18_resnet18_in1k.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
