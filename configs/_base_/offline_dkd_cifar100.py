# MMRazor's DKDLoss for the offline DKD + ADM configs on CIFAR-100, with the
# DKD paper's CIFAR-100 values (tau = 4, alpha = 1, beta = 8; the student's
# CE keeps weight 1.0). DKD's 20-epoch linear warm-up of its weight is not
# applied (MMRazor's DKDLoss has none). A config merges both into
# model.distiller (see configs/adm/offline_dkd_*_cifar100.py).
loss_dkd = dict(
    type='DKDLoss',
    tau=4,
    alpha=1.0,
    beta=8.0,
    loss_weight=1.0,
    reduction='batchmean')
loss_dkd_mapping = dict(
    preds_S=dict(peer='student', recorder='logits'),
    preds_T=dict(peer='teacher', recorder='logits'),
    gt_labels=dict(data='gt'))
