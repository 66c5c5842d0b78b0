# KDCL-General, ResNet32x4 (teacher) <-> ResNet8x4 (student), CIFAR-100: the
# MinLogit config (total batch 128 = 1 GPU x 128, 300 epochs, lr 0.1, tau = 1,
# lambda = 1, one view per network) with the Perrone-Cooper ensemble. The
# first 45000 training images train; the last 5000 are held out, and after
# every epoch mmokd.KDCLGeneralWeightsHook re-estimates the weights on them
# (uniform before the first estimate). No paper number for this variant under
# the ADM protocol (the ADM paper's KDCL column does not name the variant).
_base_ = ['./resnet32x4_resnet8x4_cifar100.py']

model = dict(ensemble_strategy='general')
train_dataloader = dict(dataset=dict(indices=45000))
custom_hooks = [
    dict(type='mmokd.ExportPeerHook'),
    dict(
        type='mmokd.KDCLGeneralWeightsHook',
        dataloader=dict(
            batch_size=128,
            num_workers=2,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(
                type='mmokd.OfflineCIFAR100',
                data_root='data/cifar100',
                split='train',
                indices=-5000,
                pipeline=[dict(type='PackInputs')])))
]
