# ADM settings shared by the DML + ADM configs (Chen et al., ICML 2025,
# Sec. 5.1). A pair config inherits this file beside its DML config and
# adds the pair's channel counts (and feature stages):
#     model = dict(distiller=dict(_base_.adm_cifar100, channels=...))
# CIFAR-100: alpha = beta = 0.01, gamma = 1.0; F = the backbone's last map.
adm_cifar100 = dict(
    type='ADMDistiller',
    feature=dict(source='backbone', data_idx=-1),
    classifier='head.fc',
    alpha=0.01,
    beta=0.01,
    gamma=1.0)
# ImageNet-1k: alpha = 0.2, beta = 0.6, gamma = 0.01. The consensus term
# takes the KD form of Table 15 (its "L_co = KD, L_di = CE" row equals the
# full-model row of Tables 3 and 13); consensus_form='ce' gives Eq. 7.
adm_imagenet = dict(
    type='ADMDistiller',
    feature=dict(source='backbone', data_idx=-1),
    classifier='head.fc',
    alpha=0.2,
    beta=0.6,
    gamma=0.01,
    consensus_form='kd')
# Cityscapes (dense ADM, beyond the paper's equations): F = the decode
# head's last feature map (the input of conv_seg), classified per pixel by
# conv_seg; the paper gives no alpha / beta / gamma for Cityscapes, so the
# ImageNet values are used; label 255 is left out.
adm_cityscapes = dict(
    type='ADMDistiller',
    feature=dict(source='decode_head.bottleneck'),
    classifier='decode_head.conv_seg',
    alpha=0.2,
    beta=0.6,
    gamma=0.01,
    ignore_index=255)
