# Shared runtime of online distillation on ImageNet-1k (ADM paper, Sec.
# 5.1): total batch 256 = 8 GPUs x 32, 100 epochs, SGD momentum 0.9, lr
# 0.1 divided by 10 every 30 epochs, weight decay 1e-4; RandomResizedCrop
# 224 and horizontal flip. Every peer has its own optimizer with these
# settings. The paper states no warm-up (none here).
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmokd'], allow_failed_imports=False)

sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
optim_wrapper = dict(
    constructor='mmokd.PeerOptimWrapperConstructor', student=sgd, teacher=sgd)
param_scheduler = [
    dict(
        type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1)
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict(type='mmokd.OnlineDistillValLoop', eval_peers='all')
test_cfg = dict(type='mmokd.OnlineDistillTestLoop', test_peers='student')
auto_scale_lr = dict(base_batch_size=256)
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)
default_hooks = dict(
    # Exact resume: every rank's random state in the checkpoints; a
    # checkpoint of another model is refused before loading.
    rank_state=dict(type='mmokd.RankStateHook'),
    resume_check=dict(type='mmokd.ResumeCheckHook'),
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best='accuracy/top1',
        rule='greater'))
custom_hooks = [dict(type='mmokd.ExportPeerHook')]
