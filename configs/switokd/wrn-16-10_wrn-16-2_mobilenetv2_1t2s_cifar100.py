# SwitOKD with three networks, 1T2S (SwitOKD Table 7; ADM paper Table 11):
# the WRN-16-10 "teacher" teaches the MobileNetV2 "student" and the WRN-16-2
# "assistant", with one switch per pair. As in the authors' 1T2S code: every
# network learns from the sum of the other two (tau = 1, lambda = 1, no
# tau^2), the second pair reuses the first pair's epsilon, and the teacher
# drops the term of each student whose pair is in expert mode; with both in
# expert mode it still steps with a zero loss (strict_pause=False).
# Schedule of the three-network DML base (ADM protocol): total batch 128 =
# 1 GPU x 128, 300 epochs, SGD lr 0.1 (WRNs) / 0.01 (MobileNetV2), wd 5e-4;
# the authors' script instead trains 269 epochs with Adam (lr 0.01, wd 1e-4)
# for its "MobileNet". ADM paper SwitOKD 1T2S (MobileNetV2 / WRN-16-2 /
# WRN-16-10): 72.20 / 74.91 / 80.55; SwitOKD Table 7: 64.62 / 75.02 / 77.33.
_base_ = ['../dml/wrn-16-10_wrn-16-2_mobilenetv2_cifar100.py']

model = dict(
    type='SwitOKD',
    dml_loss=dict(peer_reduction='sum'),
    pairs=[
        dict(teacher='teacher', student='student'),
        dict(teacher='teacher', student='assistant'),
    ],
    epsilon_source='first_pair',
    strict_pause=False)
