# Offline KD + ADM (ADM paper, Sec. 5.5, Table 9: KD 71.03 -> KD+ADM 71.25
# top-1): a frozen ImageNet-pretrained ResNet-34 teacher, a ResNet-18
# student trained with CE + MMRazor's KLDivergence (tau = 1, weight 3, as
# MMRazor's kd_logits_resnet34_resnet18 config) + ADM's consensus term only
# (alpha = 0.1, beta = gamma = 0). Total batch 256 = 8 GPUs x 32, 100
# epochs, SGD lr 0.1 (x0.1 every 30 epochs), wd 1e-4.
_base_ = ['../_base_/online_imagenet_bs256_100e.py']

teacher_ckpt = ('https://download.openmmlab.com/mmclassification/v0/resnet/'
                'resnet34_8xb32_in1k_20210831-f257d4e6.pth')
logits = dict(type='ModuleOutputs', source='head.fc')
model = dict(
    _scope_='mmokd',
    type='OnlineDistill',
    peers=dict(
        student=dict(
            type='ExternalModel',
            cfg_path='mmpretrain::resnet/resnet18_8xb32_in1k.py'),
        teacher=dict(
            type='ExternalModel',
            cfg_path='mmpretrain::resnet/resnet34_8xb32_in1k.py',
            cfg_options={
                'model.init_cfg':
                dict(type='Pretrained', checkpoint=teacher_ckpt)
            })),
    frozen_peers=['teacher'],
    distiller=dict(
        type='ADMDistiller',
        feature=dict(source='backbone', data_idx=-1),
        classifier='head.fc',
        channels=dict(student=512, teacher=512),
        alpha=0.1,
        beta=0.0,
        gamma=0.0,
        recorders=dict(
            student=dict(logits=logits), teacher=dict(logits=logits)),
        losses=dict(
            student=dict(
                loss_kd=dict(type='KLDivergence', tau=1, loss_weight=3))),
        loss_forward_mappings=dict(
            student=dict(
                loss_kd=dict(
                    preds_S=dict(peer='student', recorder='logits'),
                    preds_T=dict(peer='teacher', recorder='logits'))))))

optim_wrapper = dict(
    _delete_=True,
    constructor='mmokd.PeerOptimWrapperConstructor',
    student=_base_.sgd)
