# DML, FCOS R101-caffe (teacher) <-> R50-caffe (student), GN head, COCO
# 2017, 1x, total batch 16 (8 GPUs x 2). Both caffe-style: one shared BGR
# preprocessing (mean 102.98 / 115.95 / 122.77, std 1). tau = 1,
# lambda = 1: binary KL per point of every FPN level (centerness and
# boxes not distilled).
_base_ = ['../_base_/online_coco_1x.py']

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmdet::fcos/fcos_r101-caffe_fpn_gn-head-1x_coco.py')),
    logits=dict(type='mmokd.DenseHead', source='bbox_head'),
    dml_loss=dict(type='DetDMLLoss', tau=1.0, loss_weight=1.0))
# FCOS's own optimizer (both configs): SGD lr 0.01, bias lr x2 without
# decay, gradient clipping at norm 35; and its schedule (the student's):
# constant 1/3 warm-up for 500 iterations, steps at epochs 8 and 11.
fcos_sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
optim_wrapper = dict(student=fcos_sgd, teacher=fcos_sgd)
param_scheduler = [
    dict(type='ConstantLR', factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12,
        by_epoch=True,
        milestones=[8, 11],
        gamma=0.1)
]
