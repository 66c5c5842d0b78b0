# Shared runtime of online distillation on COCO 2017 detection (mmdet's 1x
# recipe): 1333x800 resize with flip, 12 epochs, LR steps at epochs 8 and
# 11 after a 500-iteration linear warm-up, every peer with its own
# optimizer (each detection config sets the optimizer of the peer's own
# mmdet config: lr, paramwise_cfg, clip_grad) under the student's schedule.
# Total batch 16 = 8 GPUs x 2 images.
_base_ = [
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmokd'], allow_failed_imports=False)

optim_wrapper = dict(
    _delete_=True, constructor='mmokd.PeerOptimWrapperConstructor')
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
    checkpoint=dict(
        interval=1, save_best='coco/bbox_mAP', rule='greater',
        max_keep_ckpts=2))
custom_hooks = [dict(type='mmokd.ExportPeerHook')]
