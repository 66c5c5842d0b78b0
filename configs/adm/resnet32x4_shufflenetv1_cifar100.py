# DML + ADM, ResNet32x4 (teacher) <-> ShuffleNetV1 (student), CIFAR-100, total
# batch 128 = 1 GPU x 128, 300 epochs, lr 0.1 (x0.1 at 140/200/250), wd 5e-4;
# base DML tau = 1, lambda = 1; ADM alpha = beta = 0.01, gamma = 1.0 (ADM
# paper, Sec. 5.1; Table 2: DML+ADM 74.61 / 79.97). Stages do not align:
# feature loss on F only.
_base_ = [
    '../dml/resnet32x4_shufflenetv1_cifar100.py',
    '../_base_/adm_settings.py'
]

model = dict(
    distiller=dict(
        _base_.adm_cifar100,
        channels=dict(student=960, teacher=256),
        feature_stages=[]))
