# DML, ResNet-50 (teacher) <-> MobileNet-V1 (student), ImageNet-1k, total
# batch 256 = 8 GPUs x 32, 100 epochs, SGD lr 0.1 (x0.1 every 30 epochs), wd
# 1e-4, tau = 1, lambda = 1 (ADM paper, Sec. 5.1; Table 4: DML 71.13 /
# 75.44). Random init. MobileNet-V1 is mmokd's (mmpretrain has none), inside
# mmpretrain's ResNet-18 classifier config with its backbone replaced.
_base_ = ['../_base_/online_imagenet_bs256_100e.py']

model = dict(
    _scope_='mmokd',
    type='DML',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmpretrain::resnet/resnet18_8xb32_in1k.py',
            cfg_options={
                'model.backbone':
                dict(_delete_=True, type='mmokd.MobileNetV1'),
                'model.head.in_channels': 1024
            }),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmpretrain::resnet/resnet50_8xb32_in1k.py')),
    logits='head.fc',
    dml_loss=dict(type='DMLLoss', tau=1.0, loss_weight=1.0))
