# DML + ADM (Chen et al., ICML 2025), Faster R-CNN R101-FPN (teacher) /
# R50-FPN (student), COCO 2017: the DML config's networks, RPN and RoI
# terms, schedule and total batch (16 = 8 GPUs x 2), plus ADM in a dense
# form on the five 256-channel FPN levels with the RPN as the dense head
# (docs/design.md, "Detection"): the attended rpn_cls scored by each RPN's
# own objectness loss and targets. alpha, beta, gamma = 0.2, 0.6, 0.01
# (the paper's ImageNet values). No published ADM result on COCO
# (configs/adm/README.md).
_base_ = ['../dml/faster-rcnn_r101_r50_coco.py']

model = dict(
    distiller=dict(
        type='DetADMDistiller',
        channels=dict(student=256, teacher=256),
        head='rpn_head',
        classifier='rpn_cls',
        alpha=0.2,
        beta=0.6,
        gamma=0.01))
