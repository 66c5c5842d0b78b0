# Example of a new pair by inheritance: the DML PSPNet config with a
# PSPNet R50-D8 teacher instead of R101-D8. Everything else (R18-D8
# student, tau = 1, lambda = 1, 80k iterations, total batch 8 = 4 x 2) is
# inherited; only the changed peer is written.
_base_ = ['./pspnet_r101_r18_cityscapes.py']

model = dict(
    peers=dict(
        teacher=dict(
            cfg_path='mmseg::pspnet/'
            'pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py')))
