# Fields that re-point a CIFAR-100 method config (configs/dml, kdcl, switokd,
# adm, gpd: ResNet32x4 / ResNet8x4 pairs) at the UCI digits written by
# tools/benchmarks/learning_check.py: an mmpretrain CustomDataset (PNG image
# folders, 16x16, 10 classes, annotation lists), a CIFAR ResNet-14 teacher
# and ResNet-8 student (64 channels at F, 32 at layer2), SGD
# lr 0.05 momentum 0.9 wd 5e-4 with a cosine schedule, validation on the
# held-out test list at the end only. learning_check.py merges these fields
# into each method's config (and sets the epochs, batch, seeds and the
# preprocessor's mean / std measured on the training images); the README's
# "Train on your own data" section does the same in a child config.
num_classes = 10
data_root = 'data/digits'
digits_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=16, padding=2),
    dict(type='PackInputs'),
]
digits_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train_small.txt',
        data_prefix='images',
        serialize_data=False,  # tiny: skip the serialisation (a gc pass)
        pipeline=digits_train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/test.txt',
        data_prefix='images',
        serialize_data=False,
        pipeline=digits_test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
data_preprocessor = dict(
    num_classes=num_classes, mean=[79.0] * 3, std=[96.0] * 3, to_rgb=False)

# No num_classes here: model.num_classes (set from num_classes above by
# learning_check.py) writes it into every network's head.
head = dict(
    type='LinearClsHead',
    in_channels=64,
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
student = dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    backbone=dict(type='mmokd.CIFARResNet', arch='resnet8'),
    neck=dict(type='GlobalAveragePooling'),
    head=head)
teacher = dict(
    student, backbone=dict(type='mmokd.CIFARResNet', arch='resnet14'))
# ADM's channels of F and of its shallower feature stage for this pair (the
# shipped CIFAR-100 configs use layer2 and F).
adm_channels = dict(student=64, teacher=64)
adm_stages = [
    dict(source='backbone.layer2', channels=dict(student=32, teacher=32))
]

sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=30, begin=0, end=30)
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=30)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1000),
    checkpoint=dict(type='CheckpointHook', interval=-1, save_last=False),
    visualization=dict(type='VisualizationHook', enable=False))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
log_level = 'WARNING'
