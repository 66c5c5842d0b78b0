# MC-Distil on Cityscapes (beyond the paper), k = 2: as
# deeplabv3_r101_r18_cityscapes.py (80k iterations, total batch 8 = 4 GPUs
# x 2, tau = 2, L = 20, dense C-Net, finite-difference hypergradient) with a
# second ImageNet-initialised student, DeepLabV3 R50-D8, weighted by the
# same C-Net (channels 0-1: R18, 2-3: R50); the R18 is deployed.
_base_ = ['./deeplabv3_r101_r18_cityscapes.py']

model = dict(
    peers=dict(
        student_r50=dict(
            type='ExternalModel',
            cfg_path='mmseg::deeplabv3/'
            'deeplabv3_r50-d8_4xb2-80k_cityscapes-512x1024.py')),
    cnet=dict(num_students=2))
optim_wrapper = dict(student_r50=_base_.sgd)
param_scheduler = dict(student_r50=_base_.poly)
custom_hooks = [
    dict(type='mmokd.ExportPeerHook', peer='student'),
    dict(type='mmokd.ExportPeerHook', peer='student_r50'),
    _base_.custom_hooks[1],
]
