# DML + ADM, ResNet-18 <-> ResNet-18, ImageNet-1k, total batch 256 = 8 GPUs x
# 32, 100 epochs, SGD lr 0.1 (x0.1 every 30 epochs), wd 1e-4; base DML tau = 1,
# lambda = 1; ADM alpha = 0.2, beta = 0.6, gamma = 0.01 (ADM paper, Sec. 5.1).
# The consensus term takes the KD form of Table 15 (its "L_co = KD, L_di = CE"
# row equals the full-model row of Tables 3 and 13); set consensus_form='ce'
# for Eq. 7 as written. Table 3: 71.07 / 70.94.
_base_ = ['../dml/resnet18_resnet18_in1k.py', '../_base_/adm_settings.py']

model = dict(
    distiller=dict(
        _base_.adm_imagenet,
        channels=dict(student=512, teacher=512),
        feature_stages=[
            dict(
                source='backbone.layer2',
                channels=dict(student=128, teacher=128)),
            dict(
                source='backbone.layer3',
                channels=dict(student=256, teacher=256)),
        ]))
