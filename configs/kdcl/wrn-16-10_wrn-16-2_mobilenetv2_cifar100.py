# KDCL with three networks: WRN-16-10 ("teacher"), WRN-16-2 ("assistant") and
# MobileNetV2 ("student", width 1.0), CIFAR-100, total batch 128 = 1 GPU x
# 128, 300 epochs, wd 5e-4, lr 0.1 for the WRNs and 0.01 for MobileNetV2 (the
# three-network DML config's schedule); all three learn from one MinLogit
# ensemble, tau = 1, lambda = 1, each from its own random crop and flip.
# Paper KDCL (SwitOKD Table 7, MobileNet / WRN-16-2 / WRN-16-10): 62.13 /
# 73.94 / 80.71 (SwitOKD's code trains its mobilenet.MobileNet for 269
# epochs there).
_base_ = ['../dml/wrn-16-10_wrn-16-2_mobilenetv2_cifar100.py']

# tau and lambda come from the DML config's dml_loss (both 1).
model = dict(type='KDCL', ensemble_strategy='minlogit')
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(
            type='MultiView',
            num_views=3,
            transforms=[_base_.train_pipeline[:-1]]),
        dict(type='PackInputs'),
    ]))
data_preprocessor = dict(
    type='mmokd.MultiViewClsDataPreprocessor', num_views=3)
