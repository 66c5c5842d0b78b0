# DML + ADM, ResNet-50 (teacher) <-> MobileNet-V1 (student), ImageNet-1k,
# total batch 256 = 8 GPUs x 32, 100 epochs, SGD lr 0.1 (x0.1 every 30
# epochs), wd 1e-4; base DML tau = 1, lambda = 1; ADM alpha = 0.2, beta =
# 0.6, gamma = 0.01 (ADM paper, Sec. 5.1; Table 4: 71.69 / 75.68), consensus
# in the KD form (see resnet34_resnet18_in1k.py). Feature loss on F only
# (stages do not align).
_base_ = ['../dml/resnet50_mobilenetv1_in1k.py', '../_base_/adm_settings.py']

model = dict(
    distiller=dict(
        _base_.adm_imagenet,
        channels=dict(student=1024, teacher=2048)))
