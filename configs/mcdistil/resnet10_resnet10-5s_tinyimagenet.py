# MC-Distil on TinyImageNet-200, as resnet10_resnet10-5s_cifar100.py (frozen
# ResNet10 teacher, students ResNet10_{xxxs..m}, ResNet10_m deployed, total
# batch 400 = 1 GPU x 400, 300 epochs, SGD 0.05 / 0.95 / 1e-4 cosine, C-Net
# Adam 1e-3 / 1e-4, tau = 2, L = 20) on 64x64 images: 10,000 training
# images held out as the meta set (the paper's "independent validation set
# of 10K"), the official val set for reporting. Annotation files:
# python tools/dataset_converters/tiny_imagenet.py data/tiny-imagenet-200.
# Every network is warm-started from its CE checkpoint on the other 90,000
# training images (the CE configs' recipe, ce/*_cifar100.py, with this
# data), read from checkpoints/mcdistil/tinyimagenet/ce_<arch>.pth.
_base_ = ['./resnet10_resnet10-5s_cifar100.py']

data_root = 'data/tiny-imagenet-200'
ckpt_dir = 'checkpoints/mcdistil/tinyimagenet'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=64, padding=8),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_split = dict(
    type='mmokd.RandomSplitDataset',
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train.txt',
        pipeline=train_pipeline),
    num_held_out=10000,
    part='train',
    seed=0)
train_dataloader = dict(dataset=dict(_delete_=True, **train_split))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/val.txt',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')]))
test_dataloader = val_dataloader
data_preprocessor = dict(
    num_classes=200,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
model = dict(
    num_classes=200,
    data_preprocessor=data_preprocessor,
    peers=dict(
        s_xxxs=dict(init_cfg=dict(checkpoint=ckpt_dir +
                                  '/ce_resnet10_xxxs.pth')),
        s_xxs=dict(init_cfg=dict(checkpoint=ckpt_dir +
                                 '/ce_resnet10_xxs.pth')),
        s_xs=dict(init_cfg=dict(checkpoint=ckpt_dir + '/ce_resnet10_xs.pth')),
        s_s=dict(init_cfg=dict(checkpoint=ckpt_dir + '/ce_resnet10_s.pth')),
        s_m=dict(init_cfg=dict(checkpoint=ckpt_dir + '/ce_resnet10_m.pth')),
        teacher=dict(init_cfg=dict(checkpoint=ckpt_dir +
                                   '/ce_resnet10.pth'))))
custom_hooks = _base_.custom_hooks[:5] + [
    dict(
        type='mmokd.MCDistilMetaHook',
        meta_dataloader=dict(
            batch_size=400,
            num_workers=4,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(train_split, part='held_out'))),
]
