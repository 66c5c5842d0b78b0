# CPU demo of configs/dml/deeplabv3_r101_r18_cityscapes.py on the tiny
# Cityscapes-format set written by tools/dataset_converters/
# make_tiny_datasets.py (128x64 images): random init instead of ImageNet
# weights (no downloads), BN instead of SyncBN, 40 iterations, total batch
# 4 = 2 processes x 2 images, SGD lr 0.05 with PolyLR (the full config's
# 0.01 barely moves randomly initialised networks in 40 iterations; with
# 0.05 both reach a visibly non-trivial mIoU on the tiny set).
_base_ = ['../dml/deeplabv3_r101_r18_cityscapes.py']

data_root = 'data/tiny_cityscapes/'
crop_size = (64, 128)
offline = {'model.pretrained': None, 'model.data_preprocessor.size': crop_size}
model = dict(
    peers=dict(
        student=dict(cfg_options=offline, norm_type='BN'),
        teacher=dict(cfg_options=offline, norm_type='BN')))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
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

max_iters = 40
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=max_iters),
    visualization=dict(draw=False))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
optim_wrapper = dict(student=sgd, teacher=sgd)
