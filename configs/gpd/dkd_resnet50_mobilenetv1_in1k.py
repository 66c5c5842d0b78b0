# GPD + DKD, ResNet-50 (static teacher) -> MobileNet-V1, ImageNet-1k (GPD
# paper, Table 1: DKD 72.05 -> DKD + GPD 73.63 top-1). Total batch 256 = 8
# GPUs x 32 (paper; authors' code: 512), 100 epochs, SGD lr 0.1 momentum 0.9
# wd 1e-4, x0.1 at 30 / 60 / 90, gradient-norm clipping 5, random init. As
# dkd_resnet34_resnet18_in1k.py with DKD beta 2.0 (authors' code for
# MobileNet); the student is mmokd's MobileNet-V1 (4,231,976 parameters) in
# mmpretrain's classifier; teacher: mmpretrain's ImageNet ResNet-50 (76.55;
# the paper's torchvision one has 76.16).
_base_ = ['./dkd_resnet34_resnet18_in1k.py']

teacher_ckpt = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
                'resnet50_8xb32_in1k_20210831-ea4938fc.pth')
model = dict(
    architecture=dict(
        cfg_options={
            'model.backbone': dict(_delete_=True, type='mmokd.MobileNetV1'),
            'model.head.in_channels': 1024
        }),
    gpd=dict(input_boundary=['backbone.layers.0.0']),
    teacher=dict(
        cfg_path='mmpretrain::resnet/resnet50_8xb32_in1k.py',
        cfg_options={
            'model.init_cfg': dict(type='Pretrained', checkpoint=teacher_ckpt)
        }),
    static_kd=dict(beta=2.0))
