# MC-Distil on Cityscapes (beyond the paper), k = 2, PSPNet: as
# pspnet_r101_r18_cityscapes.py (80k iterations, total batch 8 = 4 GPUs x
# 2) with a second ImageNet-initialised student, PSPNet R50-D8; the R18 is
# deployed.
_base_ = ['./pspnet_r101_r18_cityscapes.py']

model = dict(
    peers=dict(
        student_r50=dict(
            type='ExternalModel',
            cfg_path='mmseg::pspnet/'
            'pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py')),
    cnet=dict(num_students=2))
optim_wrapper = dict(student_r50=_base_.sgd)
param_scheduler = dict(student_r50=_base_.poly)
custom_hooks = [
    dict(type='mmokd.ExportPeerHook', peer='student'),
    dict(type='mmokd.ExportPeerHook', peer='student_r50'),
    _base_.custom_hooks[1],
]
