# Shared runtime of GPD on Cityscapes (mmseg protocol; the GPD paper has no
# segmentation experiments): 512x1024 crops, 80k iterations, SGD lr 0.01,
# momentum 0.9, wd 5e-4, PolyLR (power 0.9, eta_min 1e-4), total batch 8 =
# 4 GPUs x 2 images; ONE optimizer over the shared parameter store of the
# student and the dynamic teacher, gradient-norm clipping 5 as in the
# authors' code.
_base_ = ['./online_cityscapes_80k.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=5, norm_type=2))
val_cfg = dict(eval_peers=['student', 'dynamic_teacher'])
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)
