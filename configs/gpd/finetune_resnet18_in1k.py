# GPD fine-tuning of a pretrained ResNet-18, ImageNet-1k (GPD paper, Table
# 2: pretrained 69.75, longer training 70.23, GPD 71.12 top-1, +0.89). Total
# batch 256 = 8 GPUs x 32 (paper; authors' code: 512), 50 epochs, SGD lr
# 0.01 (0.1 x the pretraining lr) momentum 0.9 wd 1e-4, x0.1 at epoch 30,
# no warm-up, gradient-norm clipping 5. The student is mmpretrain's ImageNet
# ResNet-18 (69.90; the paper's torchvision one has 69.75), loaded before
# the expansion; extra branches start at zero ('pretrained'), so the dynamic
# teacher starts with the student's function (up to the 1e-6 noise).
_base_ = ['./scratch_resnet18_in1k.py']

student_ckpt = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
                'resnet18_8xb32_in1k_20210831-fbbb1da6.pth')
model = dict(
    architecture=dict(
        cfg_options={
            'model.init_cfg': dict(type='Pretrained', checkpoint=student_ckpt)
        }),
    gpd=dict(branches='pretrained'))
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30], gamma=0.1)
]
train_cfg = dict(max_epochs=50)
