# DML, Faster R-CNN R101-FPN (teacher) <-> R50-FPN (student), COCO 2017, 1x,
# total batch 16 (8 GPUs x 2). tau = 1, lambda = 1 on the RPN's objectness
# (binary KL per anchor of every FPN level, batch padding left out,
# normalised by the target's soft foreground count).
_base_ = ['../_base_/online_coco_1x.py']

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py')),
    logits=dict(type='mmokd.DenseHead', source='rpn_head'),
    dml_loss=dict(type='DetDMLLoss', tau=1.0, loss_weight=1.0))
# Faster R-CNN's own optimizer (both configs): SGD lr 0.02, momentum 0.9,
# weight decay 1e-4.
faster_rcnn_sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
optim_wrapper = dict(student=faster_rcnn_sgd, teacher=faster_rcnn_sgd)
