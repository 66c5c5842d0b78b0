# DML + ADM with three networks (ADM paper Table 11), 1T2S: WRN-16-10 teaches
# both MobileNetV2 and WRN-16-2; ADM per teacher-student pair, alpha = beta =
# 0.01, gamma = 1.0; the three-network DML base states the schedule (total
# batch 128 = 1 GPU x 128). Paper (MobileNetV2 / WRN-16-2 / WRN-16-10): 71.69 /
# 74.80 / 80.58.
_base_ = [
    '../dml/wrn-16-10_wrn-16-2_mobilenetv2_cifar100.py',
    '../_base_/adm_settings.py'
]

model = dict(
    distiller=dict(
        _base_.adm_cifar100,
        channels=dict(student=1280, assistant=128, teacher=640),
        pairs=[
            dict(teacher='teacher', student='student'),
            dict(teacher='teacher', student='assistant')
        ]))
