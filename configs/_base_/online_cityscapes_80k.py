# Shared runtime of online distillation on Cityscapes (mmseg protocol):
# 512x1024 crops, 80k iterations, SGD lr 0.01 / momentum 0.9 / wd 5e-4 with
# PolyLR (power 0.9, eta_min 1e-4) for every peer, each with its own
# optimizer. Total batch 8 = 4 GPUs x 2 images (mmseg's Cityscapes
# protocol, used by the ADM paper's Table 5); 8 GPUs x 1 image gives the
# same total: tools/dist_train.sh CONFIG 8 --cfg-options
# train_dataloader.batch_size=1.
_base_ = [
    'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/schedules/schedule_80k.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmokd'], allow_failed_imports=False)

sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    clip_grad=None)
optim_wrapper = dict(
    _delete_=True,
    constructor='mmokd.PeerOptimWrapperConstructor',
    student=sgd,
    teacher=sgd)
# One DDP per peer: each network synchronises its own gradients.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)
val_cfg = dict(
    _delete_=True, type='mmokd.OnlineDistillValLoop', eval_peers='all')
test_cfg = dict(
    _delete_=True, type='mmokd.OnlineDistillTestLoop', test_peers='student')
default_hooks = dict(
    # Exact resume: every rank's random state in the checkpoints; a
    # checkpoint of another model is refused before loading.
    rank_state=dict(type='mmokd.RankStateHook'),
    resume_check=dict(type='mmokd.ResumeCheckHook'),
    checkpoint=dict(save_best='mIoU', rule='greater', max_keep_ckpts=2))
custom_hooks = [dict(type='mmokd.ExportPeerHook')]
