# MC-Distil on Cityscapes (beyond the paper, which has no segmentation): a
# frozen mmseg-zoo DeepLabV3 R101-D8 teacher (80.20 mIoU in mmseg's model
# zoo), one ImageNet-initialised DeepLabV3 R18-D8 student, as the DML rows.
# mmseg protocol: 512x1024 crops, 80k iterations, SGD lr 0.01 / 0.9 / 5e-4
# poly, total batch 8 = 4 GPUs x 2. tau = 2, L = 20, a dense C-Net (one
# weight pair per position of the 1/8 grid, resized to the logits grid),
# hypergradient by finite differences (no double backward: SyncBN and mmcv
# ops work). Items are the labelled pixels of the student's logits grid
# (labels resized by nearest neighbour, 255 left out). 300 training images
# are held out as the meta set (never the val set); loss_mc_ce replaces
# decode.loss_ce, the auxiliary FCN loss stays unweighted.
_base_ = ['../_base_/online_cityscapes_80k.py']

teacher_ckpt = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/'
    'deeplabv3_r101-d8_512x1024_80k_cityscapes/'
    'deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth')
model = dict(
    _scope_='mmokd',
    type='MCDistil',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmseg::deeplabv3/'
            'deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmseg::deeplabv3/'
            'deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
            cfg_options={
                'model.pretrained': None,
                'model.init_cfg': dict(
                    type='Pretrained', checkpoint=teacher_ckpt)
            })),
    student='student',
    teacher='teacher',
    logits='decode_head.conv_seg',
    tau=2.0,
    meta_interval=20,
    hypergrad='finite_difference',
    hard_loss_keys=('decode.loss_ce', ),
    ignore_index=255,
    cnet=dict(type='MCDistilCNet', num_students=1, dense=True))

train_split = dict(
    type='mmokd.RandomSplitDataset',
    dataset=_base_.train_dataloader.dataset,
    num_held_out=300,
    part='train',
    seed=0)
train_dataloader = dict(dataset=dict(_delete_=True, **train_split))
adam = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4))
optim_wrapper = dict(
    _delete_=True,
    constructor='mmokd.PeerOptimWrapperConstructor',
    student=_base_.sgd,
    cnet=adam)
poly = _base_.param_scheduler
param_scheduler = dict(_delete_=True, student=poly, cnet=[])
custom_hooks = [
    dict(type='mmokd.ExportPeerHook', peer='student'),
    dict(
        type='mmokd.MCDistilMetaHook',
        meta_dataloader=dict(
            batch_size=2,
            num_workers=2,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(train_split, part='held_out'))),
]
