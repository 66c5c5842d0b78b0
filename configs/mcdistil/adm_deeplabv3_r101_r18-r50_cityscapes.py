# MC-Distil + ADM on Cityscapes (beyond both papers): as
# deeplabv3_r101_r18-r50_cityscapes.py (80k iterations, total batch 8 = 4
# GPUs x 2) plus ADM's consensus and feature terms for each student towards
# the frozen teacher (ADM paper, Eq. 10: alpha = 0.2, gamma = 0.01, the
# ImageNet values its Cityscapes configs use; beta = 0, the teacher does not
# learn). F = decode_head.bottleneck (128 channels for R18, 512 for R50 and
# R101; 1x1 adapters owned by the students). ADM's terms are not weighted
# by the C-Net and are left out of the look-ahead (their gradient does not
# depend on the C-Net).
_base_ = ['./deeplabv3_r101_r18-r50_cityscapes.py']

model = dict(
    distiller=dict(
        type='ADMDistiller',
        feature=dict(source='decode_head.bottleneck'),
        classifier='decode_head.conv_seg',
        channels=dict(student=128, student_r50=512, teacher=512),
        pairs=[
            dict(teacher='teacher', student='student'),
            dict(teacher='teacher', student='student_r50')
        ],
        alpha=0.2,
        beta=0.0,
        gamma=0.01,
        ignore_index=255))
