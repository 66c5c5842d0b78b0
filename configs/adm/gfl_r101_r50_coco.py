# DML + ADM (Chen et al., ICML 2025), GFL R101-FPN (teacher) / R50-FPN
# (student), COCO 2017: the DML config's networks, DML terms, schedule and
# total batch (16 = 8 GPUs x 2), plus ADM in a dense form on the five
# 256-channel FPN levels (docs/design.md, "Detection"): the attended
# gfl_cls scored by each head's own quality focal loss and targets.
# alpha, beta, gamma = 0.2, 0.6, 0.01 (the paper's ImageNet values). No
# published ADM result on COCO (configs/adm/README.md).
_base_ = ['../dml/gfl_r101_r50_coco.py']

model = dict(
    distiller=dict(
        type='DetADMDistiller',
        channels=dict(student=256, teacher=256),
        classifier='gfl_cls',
        alpha=0.2,
        beta=0.6,
        gamma=0.01))
