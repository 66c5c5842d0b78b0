# KDCL, PSPNet R101-D8 (teacher) <-> R18-D8 (student), Cityscapes
# 512x1024, 80k iterations, total batch 8 (4 GPUs x 2); ensemble MinLogit per
# pixel on decode_head.conv_seg, tau = 1, lambda = 1 (ADM paper Sec. 5.1
# re-run protocol), label 255 ignored. Each network gets its own photometric
# distortion of every crop; resize, crop and flip are shared so the networks'
# pixels stay aligned. Backbones ImageNet-initialised (ADM paper Table 5:
# KDCL 71.49 mIoU for the student).
_base_ = ['../dml/pspnet_r101_r18_cityscapes.py']

# tau and lambda come from the DML config's dml_loss (both 1).
model = dict(
    type='KDCL',
    ensemble_strategy='minlogit',
    # mmseg's Cityscapes preprocessing, applied to each network's view.
    data_preprocessor=dict(
        type='MultiViewSegDataPreProcessor',
        num_views=2,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=_base_.crop_size))
train_dataloader = dict(
    dataset=dict(pipeline=_base_.train_pipeline[:-2] + [
        dict(type='mmokd.MultiViewPhotoMetricDistortion', num_views=2),
        dict(type='mmokd.PackMultiViewSegInputs'),
    ]))
