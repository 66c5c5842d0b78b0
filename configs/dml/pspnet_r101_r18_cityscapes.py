# DML, PSPNet R101-D8 (teacher) <-> R18-D8 (student), Cityscapes
# 512x1024, 80k iterations, total batch 8 (4 GPUs x 2). tau = 1, lambda = 1
# (ADM paper, Sec. 5.1); KL per pixel on decode_head.conv_seg, label 255
# ignored. Backbones ImageNet-initialised (ADM paper, Table 5: DML 71.54
# mIoU for the student).
_base_ = ['../_base_/online_cityscapes_80k.py']

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmseg::pspnet/'
            'pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmseg::pspnet/'
            'pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py')),
    logits='decode_head.conv_seg',
    dml_loss=dict(type='DMLLoss', tau=1.0, loss_weight=1.0,
                  ignore_index=255))
