# GPD without a pretrained teacher, PSPNet R18-D8 on Cityscapes 512x1024
# (the GPD paper covers classification only; mmseg's R18-D8 baseline is
# 74.87 mIoU at 80k). Total batch 8 = 4 GPUs x 2, 80k iterations, SGD lr
# 0.01 momentum 0.9 wd 5e-4, PolyLR, gradient-norm clipping 5. As
# deeplabv3_r18_cityscapes.py; PSPHead concatenates the widened backbone
# features with its pooled branches, so its bottleneck reads the widened
# segment through tiled columns and the others unchanged (column map).
_base_ = ['./deeplabv3_r18_cityscapes.py']

model = dict(
    architecture=dict(cfg_path='mmseg::pspnet/'
                      'pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'))
