# SwitOKD (Qian et al., ECCV 2022), PSPNet R101-D8 (teacher) / R18-D8
# (student), Cityscapes: the DML config's networks, losses (tau = 1, lambda =
# 1), schedule and total batch (8 = 4 GPUs x 2), with SwitOKD's per-batch
# switch (teacher paused in expert mode, rule of the authors' code). ADM paper
# Table 5: SwitOKD 71.72 mIoU (student).
_base_ = ['../dml/pspnet_r101_r18_cityscapes.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
