# MC-Distil on Cityscapes (beyond the paper), k = 2, PSPNet: as
# deeplabv3_r101_r18-r50_cityscapes.py (80k iterations, total batch 8 = 4
# GPUs x 2) with PSPNet networks: a frozen mmseg-zoo PSPNet R101-D8 teacher
# and ImageNet-initialised PSPNet R18-D8 (deployed) and R50-D8 students.
_base_ = ['./deeplabv3_r101_r18-r50_cityscapes.py']

teacher_ckpt = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/pspnet/'
    'pspnet_r101-d8_512x1024_80k_cityscapes/'
    'pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth')
model = dict(
    peers=dict(
        student=dict(
            cfg_path='mmseg::pspnet/'
            'pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
        student_r50=dict(
            cfg_path='mmseg::pspnet/'
            'pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py'),
        teacher=dict(
            cfg_path='mmseg::pspnet/'
            'pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
            cfg_options={
                'model.init_cfg': dict(
                    type='Pretrained', checkpoint=teacher_ckpt)
            })))
