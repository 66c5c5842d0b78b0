# GPD without a pretrained teacher, ResNet-18 trained from scratch,
# ImageNet-1k (GPD paper, Table 2: 70.07 -> 71.87 top-1, +1.80). Total batch
# 256 = 8 GPUs x 32 (paper; authors' code: 512), 100 epochs, SGD lr 0.1
# momentum 0.9 wd 1e-4, x0.1 at 30 / 60 / 90, gradient-norm clipping 5.
# Losses: CE on the dynamic teacher and on the student, 3.0 x label-smoothed
# (0.1) soft CE from the detached DT to the student. DT: x2, noise 1e-6,
# multi-branch 3x3 convs ('scratch').
_base_ = ['../_base_/gpd_imagenet_bs256_100e.py']

model = dict(
    _scope_='mmokd',
    type='GPD',
    architecture=dict(
        type='ExternalModel',
        cfg_path='mmpretrain::resnet/resnet18_8xb32_in1k.py'),
    gpd=dict(
        ratio=2,
        noise_std=1e-6,
        input_boundary=['backbone.conv1'],
        output_boundary=['head.fc'],
        branches='scratch'),
    logits='head.fc',
    dt_loss=dict(type='GPDSoftCELoss', loss_weight=3.0, label_smoothing=0.1))
