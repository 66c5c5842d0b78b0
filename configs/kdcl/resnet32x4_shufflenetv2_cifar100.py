# KDCL, ResNet32x4 (teacher) <-> ShuffleNetV2 (student), CIFAR-100, total batch
# 128 = 1 GPU x 128, 300 epochs, lr 0.1 (x0.1 at 140/200/250), wd 5e-4;
# ensemble MinLogit, tau = 1, lambda = 1 (ADM paper Sec. 5.1 re-run protocol;
# ADM paper Table 2: KDCL 75.00 / 79.14 (S / T)). Each network gets its own
# random crop and flip of every image (mmpretrain MultiView, one view per
# network).
_base_ = ['../dml/resnet32x4_shufflenetv2_cifar100.py']

# tau and lambda come from the DML config's dml_loss (both 1).
model = dict(type='KDCL', ensemble_strategy='minlogit')
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(
            type='MultiView',
            num_views=2,
            transforms=[_base_.train_pipeline[:-1]]),
        dict(type='PackInputs'),
    ]))
data_preprocessor = dict(
    type='mmokd.MultiViewClsDataPreprocessor', num_views=2)
