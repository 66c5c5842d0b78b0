# CPU demo of configs/dml/retinanet_r101_r18_coco.py on the tiny COCO-format
# set written by tools/dataset_converters/make_tiny_datasets.py coco
# (160x128 images of coloured boxes; tools/demo.sh det writes 64 train and
# 4 val images): random init instead of ImageNet weights (no downloads), so
# the backbones' BatchNorm trains (norm_eval=False) and no stage is frozen;
# the images at their own size instead of 1333x800; iteration-based with
# total batch 4 = 2 processes x 2 images, SGD lr 0.02 after a short warm-up
# with gradients clipped at norm 10 (a randomly initialised R101 diverges at
# lr 0.02 without); a score threshold of 0 at test time (randomly
# initialised detectors score below mmdet's 0.05 for many iterations, and
# every box then counts for AP). 40 iterations reach a box AP of about 0.03
# for both networks (measured: student 0.031, teacher 0.026).
_base_ = ['../dml/retinanet_r101_r18_coco.py']

data_root = 'data/tiny_coco/'
offline = {
    'model.backbone.init_cfg': None,
    'model.backbone.norm_eval': False,
    'model.backbone.frozen_stages': -1,
    'model.test_cfg.score_thr': 0.0
}
model = dict(
    peers=dict(
        student=dict(cfg_options=offline), teacher=dict(cfg_options=offline)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(160, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

max_iters = 40
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)
]
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_iters, by_epoch=False))
log_processor = dict(by_epoch=False)
sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=10, norm_type=2))
optim_wrapper = dict(student=sgd, teacher=sgd)
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
