# DML, GFL R101-FPN (teacher) <-> GFL R18-FPN (student: mmdet's GFL R50
# config with an ImageNet ResNet-18 and its FPN inputs, as in mmdet's LD
# table), COCO 2017, 1x, total batch 16 (8 GPUs x 2).
_base_ = ['./gfl_r101_r50_coco.py']

model = dict(
    peers=dict(
        student=dict(
            cfg_options={
                'model.backbone.depth': 18,
                'model.backbone.init_cfg.checkpoint':
                'torchvision://resnet18',
                'model.neck.in_channels': [64, 128, 256, 512]
            })))
