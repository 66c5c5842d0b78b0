# SwitOKD with three networks, 2T1S (SwitOKD Table 7; ADM paper Table 11):
# the WRN-16-2 "assistant" and the WRN-16-10 "teacher" both teach the
# MobileNetV2 "student", with one switch per pair. As in the authors' 2T1S
# code: every network learns from the sum of the other two (tau = 1,
# lambda = 1, no tau^2), the second pair reuses the first pair's epsilon, and
# a teacher whose pair is in expert mode takes no step at all. Schedule of
# the three-network DML base (ADM protocol): total batch 128 = 1 GPU x 128,
# 300 epochs, SGD lr 0.1 (WRNs) / 0.01 (MobileNetV2), wd 5e-4. ADM paper
# SwitOKD 2T1S (MobileNetV2 / WRN-16-2 / WRN-16-10): 71.97 / 75.07 / 80.40;
# SwitOKD Table 7: 65.03 / 71.73 / 77.07.
_base_ = ['./wrn-16-10_wrn-16-2_mobilenetv2_1t2s_cifar100.py']

model = dict(
    pairs=[
        dict(teacher='assistant', student='student'),
        dict(teacher='teacher', student='student'),
    ],
    strict_pause=True)
