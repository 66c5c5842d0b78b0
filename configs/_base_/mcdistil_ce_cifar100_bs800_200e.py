# CE warm start of every MC-Distil network on CIFAR-100 (the authors'
# train_CE.py with scripts/image_classification/runner_ce.sh): plain
# cross-entropy on the 45,000 training images of the MC-Distil split (same
# seeded permutation, so the warm start never sees the meta set), total
# batch 800 = 1 GPU x 800, 200 epochs, SGD lr 0.1, momentum 0.9, wd 5e-4,
# cosine; the best checkpoint on the 5,000 held-out images is kept, as the
# reference does. A config sets the backbone arch and the head's
# in_channels. Export the best checkpoint as
# checkpoints/mcdistil/cifar100/ce_<arch>.pth (its state_dict has the plain
# classifier's keys, which the MC-Distil configs load through init_cfg).
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmokd'], allow_failed_imports=False)

data_root = 'data/cifar100'
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Cutout', shape=16, pad_val=(129, 124, 112), prob=1.0),
    dict(type='PackInputs'),
]
split = dict(
    type='mmokd.RandomSplitDataset',
    dataset=dict(
        type='mmokd.OfflineCIFAR100',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    num_held_out=5000,
    seed=0)
train_dataloader = dict(
    batch_size=800,
    num_workers=4,
    dataset=dict(_delete_=True, part='train', **split))
held_out = dict(
    split,
    part='held_out',
    dataset=dict(split['dataset'], pipeline=[dict(type='PackInputs')]))
val_dataloader = dict(
    batch_size=800, dataset=dict(_delete_=True, **held_out))
test_dataloader = dict(
    batch_size=800,
    dataset=dict(type='mmokd.OfflineCIFAR100', data_root=data_root))

model = dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    backbone=dict(type='mmokd.CIFARBasicResNet'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(
        type='CosineAnnealingLR', T_max=200, eta_min=0, by_epoch=True,
        begin=0, end=200)
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=800)
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        interval=10,
        max_keep_ckpts=1,
        save_best='accuracy/top1',
        rule='greater'))
