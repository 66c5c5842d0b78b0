# DML + ADM, DeepLabV3 R101-D8 (teacher) <-> R18-D8 (student), Cityscapes
# 512x1024, 80k iterations, total batch 8 (4 GPUs x 2); base DML tau = 1,
# lambda = 1 (ADM paper Table 5: DML+ADM 74.55 mIoU for the student).
# Dense ADM: F = the decode head's last feature map (decode_head.bottleneck,
# the input of conv_seg; 128 channels for R18, 512 for R101, so the 1x1
# adapter is needed). The paper gives no alpha / beta / gamma for
# Cityscapes: the ImageNet values (rich spatial information) are used,
# alpha = 0.2, beta = 0.6, gamma = 0.01.
_base_ = [
    '../dml/deeplabv3_r101_r18_cityscapes.py',
    '../_base_/adm_settings.py'
]

model = dict(
    distiller=dict(
        _base_.adm_cityscapes,
        channels=dict(student=128, teacher=512)))
