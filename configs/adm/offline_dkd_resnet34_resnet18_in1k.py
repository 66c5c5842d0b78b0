# Offline DKD + ADM (ADM paper, Sec. 5.5, Table 9: DKD 71.70 -> DKD+ADM
# 71.84 top-1): as offline_kd_resnet34_resnet18_in1k.py with MMRazor's
# DKDLoss (tau = 1, beta = 0.5, weight 1, as MMRazor's dkd config) instead
# of KD; ADM consensus alpha = 0.1. Total batch 256 = 8 GPUs x 32.
_base_ = ['./offline_kd_resnet34_resnet18_in1k.py']

model = dict(
    distiller=dict(
        losses=dict(
            student=dict(
                _delete_=True,
                loss_dkd=dict(
                    type='DKDLoss',
                    tau=1,
                    beta=0.5,
                    loss_weight=1,
                    reduction='mean'))),
        loss_forward_mappings=dict(
            student=dict(
                _delete_=True,
                loss_dkd=dict(
                    preds_S=dict(peer='student', recorder='logits'),
                    preds_T=dict(peer='teacher', recorder='logits'),
                    gt_labels=dict(data='gt'))))))
