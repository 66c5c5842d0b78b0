# KDCL + ADM, DeepLabV3 R101-D8 (teacher) <-> R18-D8 (student), Cityscapes
# 512x1024, 80k iterations, total batch 8 (4 GPUs x 2); base KDCL MinLogit per
# pixel, tau = 1, lambda = 1; dense ADM on decode_head.bottleneck with the
# ImageNet alpha = 0.2, beta = 0.6, gamma = 0.01, as in the DML + ADM config.
# Both networks see the same image (KDCL's per-network photometric views off,
# so ADM's similarity map compares the same input). No paper number (the ADM
# paper's Table 5 has no KDCL+ADM row).
_base_ = ['../kdcl/deeplabv3_r101_r18_cityscapes.py']

train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
model = dict(
    # One view, shared by both networks.
    data_preprocessor=dict(num_views=1),
    distiller=dict(
        type='ADMDistiller',
        feature=dict(source='decode_head.bottleneck'),
        classifier='decode_head.conv_seg',
        channels=dict(student=128, teacher=512),
        alpha=0.2,
        beta=0.6,
        gamma=0.01,
        ignore_index=255))
