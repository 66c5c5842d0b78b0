# MC-Distil + ADM on CIFAR-100 (beyond both papers): as
# resnet10_resnet10-5s_cifar100.py (total batch 400 = 1 GPU x 400, 300
# epochs, tau = 2, L = 20) plus ADM's consensus term for each student
# towards the frozen ResNet10 teacher (ADM paper, Eq. 10 and Table 8's
# offline setting: alpha = 1.0, beta = gamma = 0). F = the backbone's last
# map; the students' widths (16-128) differ from the teacher's 512, so each
# 1x1 adapter of the similarity map is fitted as a probe on the detached
# student feature (adapter_probe_weight = 1), as in configs/adm's
# heterogeneous offline pairs. ADM's terms are not weighted by the C-Net and
# are left out of the look-ahead.
_base_ = ['./resnet10_resnet10-5s_cifar100.py']

model = dict(
    distiller=dict(
        type='ADMDistiller',
        feature=dict(source='backbone', data_idx=-1),
        classifier='head.fc',
        channels=dict(
            s_xxxs=16, s_xxs=16, s_xs=32, s_s=64, s_m=128, teacher=512),
        pairs=[
            dict(teacher='teacher', student=name)
            for name in ('s_xxxs', 's_xxs', 's_xs', 's_s', 's_m')
        ],
        alpha=1.0,
        beta=0.0,
        gamma=0.0,
        adapter_probe_weight=1.0))
