# MC-Distil, CIFAR-100: frozen CE-trained ResNet10 teacher (CE 75.25 top-1 in
# the authors' scripts), students ResNet10_{xxxs,xxs,xs,s,m} (ResNet10_m
# deployed), total batch 400 = 1 GPU x 400, 300 epochs, SGD lr 0.05 / 0.95 /
# 1e-4 cosine, C-Net Adam 1e-3 / 1e-4, tau = 2, L = 20 (the authors'
# runner_mcdistil.sh, which uses this teacher); 5,000 training images held
# out as the meta set.
_base_ = ['../_base_/mcdistil_cifar100_bs400_300e.py']

model = dict(
    peers=dict(
        teacher=dict(
            _base_.cifar_classifier,
            backbone=dict(type='mmokd.CIFARBasicResNet', arch='resnet10'),
            head=dict(_base_.cifar_head, in_channels=512),
            init_cfg=dict(
                type='Pretrained',
                checkpoint=_base_.ckpt_dir + '/ce_resnet10.pth'))))
