# GPD with a static teacher, DeepLabV3 R101-D8 (mmseg's Cityscapes model,
# 80.20 mIoU, frozen, BatchNorm in eval mode) -> R18-D8, Cityscapes
# 512x1024. Total batch 8 = 4 GPUs x 2, 80k iterations, SGD lr 0.01
# momentum 0.9 wd 5e-4, PolyLR, gradient-norm clipping 5. As
# deeplabv3_r18_cityscapes.py plus pixel-wise KD (mmokd.DMLLoss: tau 1,
# weight 1, KL(p_T || p) per pixel, label 255 ignored) from the teacher to
# the dynamic teacher and to the student. No paper number (classification
# only); mmseg's R18-D8 baseline is 76.70 mIoU.
_base_ = ['./deeplabv3_r18_cityscapes.py']

teacher_ckpt = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/'
    'deeplabv3_r101-d8_512x1024_80k_cityscapes/'
    'deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth')
model = dict(
    teacher=dict(
        type='ExternalModel',
        cfg_path='mmseg::deeplabv3/'
        'deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        cfg_options={
            'model.pretrained': None,
            'model.init_cfg': dict(type='Pretrained', checkpoint=teacher_ckpt)
        }),
    teacher_norm_eval=True,
    static_kd=dict(type='DMLLoss', tau=1.0, loss_weight=1.0, ignore_index=255))
