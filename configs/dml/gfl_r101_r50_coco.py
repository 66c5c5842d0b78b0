# DML, GFL R101-FPN (teacher; the model of mmdet's ms-2x config, trained
# here on the 1x recipe) <-> GFL R50-FPN (student), COCO 2017, 1x, total
# batch 16 (8 GPUs x 2). tau = 1, lambda = 1: binary KL per prior on the
# classification (quality) scores of every FPN level, batch padding left
# out, normalised by the target's soft foreground count; the box
# distributions are not distilled (docs/design.md, "Detection").
_base_ = ['../_base_/online_coco_1x.py']

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmdet::gfl/gfl_r50_fpn_1x_coco.py'),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py')),
    logits=dict(type='mmokd.DenseHead', source='bbox_head'),
    dml_loss=dict(type='DetDMLLoss', tau=1.0, loss_weight=1.0))
# Each peer's optimizer of its own mmdet config (GFL: SGD lr 0.01, momentum
# 0.9, weight decay 1e-4, no clipping).
gfl_sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
optim_wrapper = dict(student=gfl_sgd, teacher=gfl_sgd)
