# KDCL, ResNet-18 (teacher) <-> 0.5 MobileNetV2 (student), ImageNet-1k, total
# batch 256 = 8 GPUs x 32, 100 epochs, SGD lr 0.1 (x0.1 every 30 epochs), wd
# 1e-4; ensemble MinLogit, tau = 1, lambda = 1 (ADM paper Sec. 5.1 re-run
# protocol; ADM paper Table 4: KDCL 64.32 / 70.75 (S / T)). Each network gets
# its own RandomResizedCrop and flip of every image (one view per network).
_base_ = ['../dml/resnet18_mobilenetv2-x0.5_in1k.py']

# tau and lambda come from the DML config's dml_loss (both 1).
model = dict(type='KDCL', ensemble_strategy='minlogit')
train_dataloader = dict(
    dataset=dict(pipeline=[
        _base_.train_pipeline[0],
        dict(
            type='MultiView',
            num_views=2,
            transforms=[_base_.train_pipeline[1:-1]]),
        dict(type='PackInputs'),
    ]))
data_preprocessor = dict(
    type='mmokd.MultiViewClsDataPreprocessor', num_views=2)
