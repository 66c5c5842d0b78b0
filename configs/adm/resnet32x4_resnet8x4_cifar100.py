# DML + ADM, ResNet32x4 (teacher) <-> ResNet8x4 (student), CIFAR-100, total
# batch 128 = 1 GPU x 128, 300 epochs, lr 0.1 (x0.1 at 140/200/250), wd 5e-4;
# base DML tau = 1, lambda = 1; ADM alpha = beta = 0.01, gamma = 1.0 (ADM
# paper, Sec. 5.1; Table 1: DML+ADM 74.23 / 79.62). Feature loss on layer2 and
# F (weights 1/4, 1/2).
_base_ = [
    '../dml/resnet32x4_resnet8x4_cifar100.py',
    '../_base_/adm_settings.py'
]

model = dict(
    distiller=dict(
        _base_.adm_cifar100,
        channels=dict(student=256, teacher=256),
        feature_stages=[
            dict(
                source='backbone.layer2',
                channels=dict(student=128, teacher=128))
        ]))
