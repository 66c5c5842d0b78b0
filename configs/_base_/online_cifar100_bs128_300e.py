# Shared runtime of online distillation on CIFAR-100 (ADM paper, Sec. 5.1):
# total batch 128 = 1 GPU x 128, 300 epochs, SGD momentum 0.9, lr 0.1
# (0.01 for MobileNetV2 pairs) divided by 10 at epochs 140, 200 and 250,
# weight decay 5e-4; random crop (padding 4) and horizontal flip. Every
# peer has its own optimizer with these settings. The paper does not state
# nesterov (off here) or a warm-up (none here).
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmokd'], allow_failed_imports=False)

train_dataloader = dict(
    batch_size=128, dataset=dict(type='mmokd.OfflineCIFAR100'))
val_dataloader = dict(dataset=dict(type='mmokd.OfflineCIFAR100'))
test_dataloader = val_dataloader

sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
optim_wrapper = dict(
    constructor='mmokd.PeerOptimWrapperConstructor', student=sgd, teacher=sgd)
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        milestones=[140, 200, 250],
        gamma=0.1)
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict(type='mmokd.OnlineDistillValLoop', eval_peers='all')
test_cfg = dict(type='mmokd.OnlineDistillTestLoop', test_peers='student')
auto_scale_lr = dict(base_batch_size=128)
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
        interval=10,
        max_keep_ckpts=2,
        save_best='accuracy/top1',
        rule='greater'))
custom_hooks = [dict(type='mmokd.ExportPeerHook')]

# The mmpretrain classifier every CIFAR-100 peer uses; a config sets its
# backbone and the head's in_channels, e.g.
# dict(cifar_classifier, backbone=..., head=dict(cifar_head, in_channels=C)).
cifar_head = dict(
    type='LinearClsHead',
    num_classes=100,
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
cifar_classifier = dict(
    _scope_='mmpretrain',
    type='ImageClassifier',
    neck=dict(type='GlobalAveragePooling'),
    head=cifar_head)
