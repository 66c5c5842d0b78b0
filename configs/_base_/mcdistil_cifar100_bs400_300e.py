# Shared runtime of MC-Distil on CIFAR-100 (Tambat et al., TMLR 2025; the
# authors' scripts/image_classification/runner_mcdistil.sh): total batch
# 400 = 1 GPU x 400, 45,000 training images, 5,000 held out as the meta set
# (mmokd.RandomSplitDataset, training pipeline, as the reference), official
# test set for validation. Five students ResNet10_{xxxs,xxs,xs,s,m}
# (ResNet10_m deployed), each warm-started from its CE checkpoint
# (configs/mcdistil/ce/), SGD lr 0.05, momentum 0.95, wd 1e-4, cosine over
# 300 epochs (the paper; the authors' script uses 200); C-Net ResNet10_s,
# Adam lr 1e-3, wd 1e-4, constant; tau = 2, meta step every L = 20
# iterations. Random crop (padding 4), flip and cutout 16 (the reference's
# default --cutout_length). A config sets the teacher.
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmokd'], allow_failed_imports=False)

data_root = 'data/cifar100'
ckpt_dir = 'checkpoints/mcdistil/cifar100'
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Cutout', shape=16, pad_val=(129, 124, 112), prob=1.0),
    dict(type='PackInputs'),
]
cifar_train = dict(
    type='mmokd.OfflineCIFAR100',
    data_root=data_root,
    split='train',
    pipeline=train_pipeline)
# The same seeded permutation splits the CE warm start's data too.
train_split = dict(
    type='mmokd.RandomSplitDataset',
    dataset=cifar_train,
    num_held_out=5000,
    part='train',
    seed=0)
train_dataloader = dict(
    batch_size=400,
    num_workers=4,
    dataset=dict(_delete_=True, **train_split))
val_dataloader = dict(
    batch_size=400,
    dataset=dict(type='mmokd.OfflineCIFAR100', data_root=data_root))
test_dataloader = val_dataloader

# An mmpretrain classifier on a CIFARBasicResNet; a peer sets the arch,
# in_channels and its CE checkpoint.
cifar_head = dict(
    type='LinearClsHead',
    num_classes=100,
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
cifar_classifier = dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    backbone=dict(type='mmokd.CIFARBasicResNet'),
    neck=dict(type='GlobalAveragePooling'),
    head=cifar_head)
students = dict(
    s_xxxs=dict(
        cifar_classifier,
        backbone=dict(type='mmokd.CIFARBasicResNet', arch='resnet10_xxxs'),
        head=dict(cifar_head, in_channels=16),
        init_cfg=dict(
            type='Pretrained',
            checkpoint=ckpt_dir + '/ce_resnet10_xxxs.pth')),
    s_xxs=dict(
        cifar_classifier,
        backbone=dict(type='mmokd.CIFARBasicResNet', arch='resnet10_xxs'),
        head=dict(cifar_head, in_channels=16),
        init_cfg=dict(
            type='Pretrained', checkpoint=ckpt_dir + '/ce_resnet10_xxs.pth')),
    s_xs=dict(
        cifar_classifier,
        backbone=dict(type='mmokd.CIFARBasicResNet', arch='resnet10_xs'),
        head=dict(cifar_head, in_channels=32),
        init_cfg=dict(
            type='Pretrained', checkpoint=ckpt_dir + '/ce_resnet10_xs.pth')),
    s_s=dict(
        cifar_classifier,
        backbone=dict(type='mmokd.CIFARBasicResNet', arch='resnet10_s'),
        head=dict(cifar_head, in_channels=64),
        init_cfg=dict(
            type='Pretrained', checkpoint=ckpt_dir + '/ce_resnet10_s.pth')),
    s_m=dict(
        cifar_classifier,
        backbone=dict(type='mmokd.CIFARBasicResNet', arch='resnet10_m'),
        head=dict(cifar_head, in_channels=128),
        init_cfg=dict(
            type='Pretrained', checkpoint=ckpt_dir + '/ce_resnet10_m.pth')))
model = dict(
    _scope_='mmokd',
    type='MCDistil',
    peers=dict(students),
    student='s_m',
    teacher='teacher',
    logits='head.fc',
    tau=2.0,
    meta_interval=20,
    # Exact hypergradient by forward-mode AD; 'second_order' (double
    # backward, the reference code's route) gives the same at about twice
    # the memory.
    hypergrad='forward_mode',
    cnet=dict(type='MCDistilCNet', num_students=5))

sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.95, weight_decay=1e-4))
optim_wrapper = dict(
    constructor='mmokd.PeerOptimWrapperConstructor',
    s_xxxs=sgd,
    s_xxs=sgd,
    s_xs=sgd,
    s_s=sgd,
    s_m=sgd,
    cnet=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4)))
cosine = [
    dict(
        type='CosineAnnealingLR', T_max=300, eta_min=0, by_epoch=True,
        begin=0, end=300)
]
param_scheduler = dict(
    s_xxxs=cosine, s_xxs=cosine, s_xs=cosine, s_s=cosine, s_m=cosine,
    cnet=[])
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict(type='mmokd.OnlineDistillValLoop', eval_peers='all')
test_cfg = dict(type='mmokd.OnlineDistillTestLoop', test_peers='s_m')
auto_scale_lr = dict(base_batch_size=400)
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)
default_hooks = dict(
    rank_state=dict(type='mmokd.RankStateHook'),
    resume_check=dict(type='mmokd.ResumeCheckHook'),
    checkpoint=dict(
        type='CheckpointHook',
        interval=10,
        max_keep_ckpts=2,
        save_best='accuracy/top1',
        rule='greater'))
custom_hooks = [
    dict(type='mmokd.ExportPeerHook', peer='s_xxxs'),
    dict(type='mmokd.ExportPeerHook', peer='s_xxs'),
    dict(type='mmokd.ExportPeerHook', peer='s_xs'),
    dict(type='mmokd.ExportPeerHook', peer='s_s'),
    dict(type='mmokd.ExportPeerHook', peer='s_m'),
    dict(
        type='mmokd.MCDistilMetaHook',
        meta_dataloader=dict(
            batch_size=400,
            num_workers=4,
            persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(train_split, part='held_out'))),
]
