# DML + ADM, VGG-13 (teacher) <-> VGG-8 (student), CIFAR-100, total batch 128 =
# 1 GPU x 128, 300 epochs, lr 0.1 (x0.1 at 140/200/250), wd 5e-4; base DML tau
# = 1, lambda = 1; ADM alpha = beta = 0.01, gamma = 1.0 (ADM paper, Sec. 5.1;
# Table 1: DML+ADM 72.8 / 76.07). Feature loss on stage3 and F (weights 1/4,
# 1/2).
_base_ = ['../dml/vgg13_vgg8_cifar100.py', '../_base_/adm_settings.py']

model = dict(
    distiller=dict(
        _base_.adm_cifar100,
        channels=dict(student=512, teacher=512),
        feature_stages=[
            dict(
                source='backbone.stage3',
                channels=dict(student=512, teacher=512))
        ]))
