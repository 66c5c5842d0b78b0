# SwitOKD + ADM, ResNet32x4 (teacher) / ResNet8x4 (student), CIFAR-100,
# total batch 128 = 1 GPU x 128, 300 epochs (ADM paper Table 1: SwitOKD+ADM
# 74.63 / 80.01): the SwitOKD config with ADM's terms added by inheritance,
# alpha = beta = 0.01, gamma = 1.0. In expert mode the paused teacher's
# divergence term is not applied (the teacher takes no step at all); the
# student's ADM terms apply every step.
_base_ = ['../switokd/resnet32x4_resnet8x4_cifar100.py']

model = dict(
    distiller=dict(
        type='ADMDistiller',
        feature=dict(source='backbone', data_idx=-1),
        classifier='head.fc',
        channels=dict(student=256, teacher=256),
        feature_stages=[
            dict(
                source='backbone.layer2',
                channels=dict(student=128, teacher=128))
        ],
        alpha=0.01,
        beta=0.01,
        gamma=1.0))
