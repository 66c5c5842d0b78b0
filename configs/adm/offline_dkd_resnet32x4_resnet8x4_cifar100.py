# Offline DKD + ADM on CIFAR-100 (ADM paper, Sec. 5.5, Table 8: DKD 76.24 ->
# DKD+ADM 76.66 top-1): as offline_kd_resnet32x4_resnet8x4_cifar100.py with
# CE (weight 1.0) + MMRazor's DKDLoss (tau = 4, alpha = 1, beta = 8, the DKD
# paper's CIFAR-100 values) instead of KD; ADM alpha = 1.0. DKD's 20-epoch
# linear warm-up of its weight is not applied (MMRazor's DKDLoss has none).
# Total batch 64 = 1 GPU x 64, 240 epochs.
_base_ = ['./offline_kd_resnet32x4_resnet8x4_cifar100.py']

model = dict(
    peers=dict(
        student=dict(
            head=dict(loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))),
    distiller=dict(
        losses=dict(
            student=dict(
                _delete_=True,
                loss_dkd=dict(
                    type='DKDLoss',
                    tau=4,
                    alpha=1.0,
                    beta=8.0,
                    loss_weight=1.0,
                    reduction='batchmean'))),
        loss_forward_mappings=dict(
            student=dict(
                _delete_=True,
                loss_dkd=dict(
                    preds_S=dict(peer='student', recorder='logits'),
                    preds_T=dict(peer='teacher', recorder='logits'),
                    gt_labels=dict(data='gt'))))))
