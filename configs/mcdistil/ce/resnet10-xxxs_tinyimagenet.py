# CE warm start of resnet10_xxxs for MC-Distil on TinyImageNet-200:
# 64x64, total batch 800 = 1 GPU x 800, 200 epochs, SGD 0.1 / 0.9 / 5e-4
# cosine on the 90,000 training images of the split (see the base). Saved as
# checkpoints/mcdistil/tinyimagenet/ce_resnet10_xxxs.pth for
# resnet10_resnet10-5s_tinyimagenet.py.
_base_ = ['../../_base_/mcdistil_ce_tinyimagenet_bs800_200e.py']

model = dict(backbone=dict(arch='resnet10_xxxs'), head=dict(in_channels=16))
