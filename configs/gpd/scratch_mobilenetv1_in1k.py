# GPD without a pretrained teacher, MobileNet-V1 trained from scratch,
# ImageNet-1k (GPD paper, Table 2: 71.68 -> 73.07 top-1, +1.39). Total batch
# 256 = 8 GPUs x 32 (paper; authors' code: 512), 100 epochs, SGD lr 0.1
# momentum 0.9 wd 1e-4, x0.1 at 30 / 60 / 90, gradient-norm clipping 5. As
# scratch_resnet18_in1k.py with mmokd's MobileNet-V1 backbone.
_base_ = ['./scratch_resnet18_in1k.py']

model = dict(
    architecture=dict(
        cfg_options={
            'model.backbone': dict(_delete_=True, type='mmokd.MobileNetV1'),
            'model.head.in_channels': 1024
        }),
    gpd=dict(input_boundary=['backbone.layers.0.0']))
