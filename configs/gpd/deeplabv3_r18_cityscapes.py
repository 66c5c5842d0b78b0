# GPD without a pretrained teacher, DeepLabV3 R18-D8 on Cityscapes 512x1024
# (the GPD paper covers classification only; mmseg's R18-D8 baseline is
# 76.70 mIoU at 80k). Total batch 8 = 4 GPUs x 2, 80k iterations, SGD lr
# 0.01 momentum 0.9 wd 5e-4, PolyLR, gradient-norm clipping 5. The backbone
# is ImageNet-initialised (mmseg's open-mmlab://resnet18_v1c, loaded before
# the expansion), the heads start from scratch. The dynamic teacher widens
# the backbone x2 (scope 'backbone'; no multi-branch convs, which would
# only apply to the undilated 3x3 stride-1 convs); the decode and auxiliary
# heads are shared in full by both modes (their first layers read the
# widened features through tiled weight columns, with separate BatchNorm
# statistics per mode).
# Losses: the network's own (decode CE + 0.4 auxiliary CE) for the DT and
# the student, 3.0 x label-smoothed (0.1) soft CE per pixel from the
# detached DT to the student (label 255 ignored).
_base_ = ['../_base_/gpd_cityscapes_80k.py']

model = dict(
    _scope_='mmokd',
    type='GPD',
    architecture=dict(
        type='ExternalModel',
        cfg_path='mmseg::deeplabv3/'
        'deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
    gpd=dict(
        ratio=2,
        noise_std=1e-6,
        scope='backbone',
        input_boundary=['backbone.stem.0']),
    logits='decode_head.conv_seg',
    dt_loss=dict(
        type='GPDSoftCELoss',
        loss_weight=3.0,
        label_smoothing=0.1,
        ignore_index=255))
