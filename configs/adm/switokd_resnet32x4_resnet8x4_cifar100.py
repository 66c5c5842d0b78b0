# SwitOKD + ADM, ResNet32x4 (teacher) / ResNet8x4 (student), CIFAR-100,
# total batch 128 = 1 GPU x 128, 300 epochs (ADM paper Table 1: SwitOKD+ADM
# 74.63 / 80.01): the DML + ADM config (alpha = beta = 0.01, gamma = 1.0)
# with SwitOKD's switch. In expert mode the paused teacher's divergence term
# is not applied (the teacher takes no step at all); the student's ADM terms
# apply every step.
_base_ = ['./resnet32x4_resnet8x4_cifar100.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
