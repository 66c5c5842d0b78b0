# DML + ADM (Chen et al., ICML 2025), RetinaNet R101-FPN (teacher) / R18-FPN
# (student), COCO 2017: the DML config's networks, DML terms, schedule and
# total batch (16 = 8 GPUs x 2), plus ADM in a dense form on the FPN levels
# (docs/design.md, "Detection"): consensus-attended focal loss for the
# student, divergence-attended for the teacher, feature MSE on the five
# 256-channel FPN levels (no adapter: the channel counts agree).
# alpha, beta, gamma = 0.2, 0.6, 0.01: the paper's ImageNet values (it
# reports no detection setting), as for Cityscapes. No published ADM
# result on COCO (configs/adm/README.md).
_base_ = ['../dml/retinanet_r101_r18_coco.py']

model = dict(
    distiller=dict(
        type='DetADMDistiller',
        channels=dict(student=256, teacher=256),
        alpha=0.2,
        beta=0.6,
        gamma=0.01))
