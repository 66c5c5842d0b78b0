# CE warm start of every MC-Distil network on TinyImageNet-200: the CIFAR-100
# recipe (mcdistil_ce_cifar100_bs800_200e.py: plain cross-entropy, total
# batch 800 = 1 GPU x 800, 200 epochs, SGD lr 0.1, momentum 0.9, wd 5e-4,
# cosine, the best checkpoint on the held-out images kept) on 64x64 images:
# the 90,000 training images of the MC-Distil split (10,000 held out by the
# same seeded permutation as resnet10_resnet10-5s_tinyimagenet.py, so the
# warm start never sees the meta set; the held-out images select the best
# epoch), the official val set for testing; the MC-Distil config's
# augmentation and normalisation. Annotation files:
# python tools/dataset_converters/tiny_imagenet.py data/tiny-imagenet-200.
# A config sets the backbone arch and the head's in_channels. Export the
# best checkpoint as checkpoints/mcdistil/tinyimagenet/ce_<arch>.pth.
_base_ = ['./mcdistil_ce_cifar100_bs800_200e.py']

data_root = 'data/tiny-imagenet-200'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=64, padding=8),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
tiny_imagenet_train = dict(
    type='CustomDataset', data_root=data_root, ann_file='meta/train.txt')
split = dict(
    type='mmokd.RandomSplitDataset',
    dataset=dict(tiny_imagenet_train, pipeline=train_pipeline),
    num_held_out=10000,
    seed=0)
train_dataloader = dict(
    batch_size=800, dataset=dict(_delete_=True, part='train', **split))
val_dataloader = dict(
    batch_size=800,
    dataset=dict(
        _delete_=True,
        type='mmokd.RandomSplitDataset',
        dataset=dict(tiny_imagenet_train, pipeline=test_pipeline),
        num_held_out=10000,
        part='held_out',
        seed=0))
test_dataloader = dict(
    batch_size=800,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/val.txt',
        pipeline=test_pipeline))
data_preprocessor = dict(
    num_classes=200,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
model = dict(head=dict(num_classes=200))
