# Shared runtime of GPD on ImageNet-1k (Guo et al., ICLR 2025, Sec. 4 and
# App. E): SGD lr 0.1, momentum 0.9, weight decay 1e-4 (all parameters),
# x0.1 at epochs 30 / 60 / 90, 100 epochs, no warm-up; total batch 256 = 8
# GPUs x 32 as in the paper (4 x 64 on its V100s; the authors' train_dkd.py
# defaults to 512); RandomResizedCrop 224 + flip. Gradient-norm clipping 5
# (authors' code). ONE optimizer over the shared parameter store of the
# student and the dynamic teacher. EMA of the whole store, buffers included,
# decay 0.99996 per iteration (authors' code; mmengine momentum 4e-5):
# validation, the checkpoints' state_dict and the exported student use the
# average (the raw weights are kept in ema_state_dict); the authors report
# the better of raw and EMA.
_base_ = ['./online_imagenet_bs256_100e.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=5, norm_type=2))
# The student (unprefixed metrics, tracked by save_best) and the dynamic
# teacher ("dynamic_teacher.accuracy/top1").
val_cfg = dict(eval_peers=['student', 'dynamic_teacher'])
# The algorithm's own train_step (two forwards and backwards per step) runs
# only under this wrapper; the store is one DDP module, all of whose
# parameters are used in both modes.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)
custom_hooks = [
    dict(type='mmokd.ExportPeerHook'),
    dict(type='EMAHook', momentum=4e-5, update_buffers=True)
]
