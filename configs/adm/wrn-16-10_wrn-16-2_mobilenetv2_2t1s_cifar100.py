# DML + ADM with three networks (ADM paper Table 11), 2T1S: WRN-16-10 and
# WRN-16-2 both teach MobileNetV2; ADM per teacher-student pair, alpha = beta =
# 0.01, gamma = 1.0; the three-network DML base states the schedule (total
# batch 128 = 1 GPU x 128). Paper (MobileNetV2 / WRN-16-2 / WRN-16-10): 72.51 /
# 74.09 / 80.72.
_base_ = ['./wrn-16-10_wrn-16-2_mobilenetv2_1t2s_cifar100.py']

model = dict(
    distiller=dict(pairs=[
        dict(teacher='teacher', student='student'),
        dict(teacher='assistant', student='student'),
    ]))
