# MC-Distil, CIFAR-100, as resnet10_resnet10-5s_cifar100.py (total batch 400
# = 1 GPU x 400, 300 epochs) with a frozen CE-trained ResNet10_l teacher (CE
# 71.99 top-1; the teacher of the authors' runner_meta.sh).
_base_ = ['./resnet10_resnet10-5s_cifar100.py']

model = dict(
    peers=dict(
        teacher=dict(
            backbone=dict(arch='resnet10_l'),
            head=dict(in_channels=256),
            init_cfg=dict(
                checkpoint=_base_.ckpt_dir + '/ce_resnet10_l.pth'))))
