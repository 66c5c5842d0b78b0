# DML, Faster R-CNN R101-FPN (teacher) <-> R50-FPN (student), COCO 2017, 1x,
# total batch 16 (8 GPUs x 2). tau = 1, lambda = 1 on both stages:
# - loss_dml_rpn, the RPN's objectness: binary KL per anchor of every FPN
#   level, batch padding left out, normalised by the target's soft
#   foreground count;
# - loss_dml_roi, RoI cross-evaluation: each network's sampled RoIs are
#   pooled from the other's FPN maps and classified by the other's box
#   head (no gradient), KL over the 81 classes averaged over the RoIs
#   (docs/design.md, "Detection").
_base_ = ['../_base_/online_coco_1x.py']

peer_names = ('student', 'teacher')
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
    dml_loss=dict(type='DetDMLLoss', tau=1.0, loss_weight=1.0),
    distiller=dict(
        type='OnlineDistiller',
        recorders={
            name: dict(rois=dict(type='mmokd.RoIHead', source='roi_head'))
            for name in peer_names
        },
        losses={
            name: dict(
                loss_dml_roi=dict(
                    type='DetRoIDMLLoss', tau=1.0, loss_weight=1.0))
            for name in peer_names
        },
        loss_forward_mappings={
            name: dict(
                loss_dml_roi=dict(
                    preds_S=dict(peer=name, recorder='rois'),
                    preds_T=[
                        dict(peer=other, recorder='rois')
                        for other in peer_names if other != name
                    ]))
            for name in peer_names
        }))
# Faster R-CNN's own optimizer (both configs): SGD lr 0.02, momentum 0.9,
# weight decay 1e-4.
faster_rcnn_sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
optim_wrapper = dict(student=faster_rcnn_sgd, teacher=faster_rcnn_sgd)
