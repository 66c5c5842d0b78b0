# SwitOKD (Qian et al., ECCV 2022), GFL R101-FPN (teacher) / R50-FPN (student),
# COCO 2017: the DML config's networks, losses (tau = 1, lambda = 1), schedule
# and total batch (16 = 8 GPUs x 2), with SwitOKD's per-batch switch (teacher
# paused in expert mode) on the priors the student's head assigned (its own
# labels and weights, docs/design.md "Detection"). No published SwitOKD result
# on COCO (configs/switokd/README.md).
_base_ = ['../dml/gfl_r101_r50_coco.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
