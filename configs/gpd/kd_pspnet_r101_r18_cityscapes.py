# GPD with a static teacher, PSPNet R101-D8 (mmseg's Cityscapes model, 79.76
# mIoU, frozen, BatchNorm in eval mode) -> R18-D8, Cityscapes 512x1024.
# Total batch 8 = 4 GPUs x 2, 80k iterations, SGD lr 0.01 momentum 0.9 wd
# 5e-4, PolyLR, gradient-norm clipping 5. As pspnet_r18_cityscapes.py plus
# pixel-wise KD (mmokd.DMLLoss: tau 1, weight 1, label 255 ignored) from the
# teacher to the dynamic teacher and to the student. No paper number
# (classification only); mmseg's R18-D8 baseline is 74.87 mIoU.
_base_ = ['./kd_deeplabv3_r101_r18_cityscapes.py']

teacher_ckpt = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/pspnet/'
    'pspnet_r101-d8_512x1024_80k_cityscapes/'
    'pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth')
model = dict(
    architecture=dict(cfg_path='mmseg::pspnet/'
                      'pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
    teacher=dict(
        cfg_path='mmseg::pspnet/'
        'pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        cfg_options={
            'model.pretrained': None,
            'model.init_cfg': dict(type='Pretrained', checkpoint=teacher_ckpt)
        }))
