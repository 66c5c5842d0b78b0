# DML, RetinaNet R101-FPN (teacher) <-> R18-FPN (student), COCO 2017, 1x
# (12 epochs), total batch 16 (8 GPUs x 2). tau = 1, lambda = 1: binary KL
# per prior of every FPN level (sigmoid heads), batch padding left out,
# normalised by the target's soft foreground count (docs/design.md,
# "Detection"). Backbones ImageNet-initialised as in the mmdet configs.
# No published DML result on COCO (configs/dml/README.md).
_base_ = ['../_base_/online_coco_1x.py']

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmdet::retinanet/retinanet_r101_fpn_1x_coco.py')),
    logits=dict(type='mmokd.DenseHead', source='bbox_head'),
    dml_loss=dict(type='DetDMLLoss', tau=1.0, loss_weight=1.0))
# Each peer's optimizer of its own mmdet config (both RetinaNet 1x: SGD lr
# 0.01, momentum 0.9, weight decay 1e-4, no clipping).
retinanet_sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
optim_wrapper = dict(student=retinanet_sgd, teacher=retinanet_sgd)
