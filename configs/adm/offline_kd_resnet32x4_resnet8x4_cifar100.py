# Offline KD + ADM on CIFAR-100 (ADM paper, Sec. 5.5, Table 8: KD 73.75 ->
# KD+ADM 74.52 top-1): a frozen pretrained ResNet32x4 teacher, a ResNet8x4
# student trained with 0.1 x CE + 0.9 x MMRazor's KLDivergence (tau = 4) +
# ADM's consensus term only (alpha = 1.0, beta = gamma = 0). The paper does
# not state the offline schedule: the CRD / DKD CIFAR-100 protocol is used,
# total batch 64 = 1 GPU x 64, 240 epochs, SGD momentum 0.9, lr 0.05 x0.1 at
# epochs 150, 180 and 210, weight decay 5e-4. The teacher's weights are read
# from `teacher_ckpt` (train it with configs/dml's student/teacher dicts in
# plain mmpretrain, or export a peer with tools/model_converters/
# export_peer.py); a missing file stops the run before the first step.
_base_ = ['../dml/resnet32x4_resnet8x4_cifar100.py']

teacher_ckpt = 'checkpoints/resnet32x4_cifar100.pth'
model = dict(
    _delete_=True,
    _scope_='mmokd',
    type='OnlineDistill',
    peers=dict(
        student=dict(
            _base_.student,
            head=dict(
                _base_.student.head,
                loss=dict(type='CrossEntropyLoss', loss_weight=0.1))),
        teacher=dict(
            _base_.teacher,
            init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt))),
    frozen_peers=['teacher'],
    distiller=dict(
        type='ADMDistiller',
        feature=dict(source='backbone', data_idx=-1),
        classifier='head.fc',
        channels=dict(student=256, teacher=256),
        alpha=1.0,
        beta=0.0,
        gamma=0.0,
        recorders=dict(
            student=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
            teacher=dict(logits=dict(type='ModuleOutputs', source='head.fc'))),
        losses=dict(
            student=dict(
                loss_kd=dict(type='KLDivergence', tau=4, loss_weight=0.9))),
        loss_forward_mappings=dict(
            student=dict(
                loss_kd=dict(
                    preds_S=dict(peer='student', recorder='logits'),
                    preds_T=dict(peer='teacher', recorder='logits'))))))

train_dataloader = dict(batch_size=64)
auto_scale_lr = dict(base_batch_size=64)
sgd = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
optim_wrapper = dict(
    _delete_=True,
    constructor='mmokd.PeerOptimWrapperConstructor',
    student=sgd)
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        milestones=[150, 180, 210],
        gamma=0.1)
]
train_cfg = dict(max_epochs=240)
