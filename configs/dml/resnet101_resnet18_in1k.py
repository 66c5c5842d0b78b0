# DML, ResNet-101 (teacher) <-> ResNet-18 (student), ImageNet-1k, total batch
# 256 = 8 GPUs x 32, 100 epochs, SGD lr 0.1 (x0.1 every 30 epochs), wd 1e-4,
# tau = 1, lambda = 1 (ADM paper, Sec. 5.1; Table 3: DML 71.44 / 76.80). Random
# init, as the paper trains from scratch.
_base_ = ['../_base_/online_imagenet_bs256_100e.py']

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmpretrain::resnet/resnet18_8xb32_in1k.py'),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmpretrain::resnet/resnet101_8xb32_in1k.py')),
    logits='head.fc',
    dml_loss=dict(type='DMLLoss', tau=1.0, loss_weight=1.0))
