# SwitOKD + ADM, VGG-13 (teacher) / VGG-8 (student), CIFAR-100, total batch 128
# = 1 GPU x 128, 300 epochs (ADM paper Table 1: SwitOKD+ADM 72.94 / 76.50): the
# DML + ADM config (alpha = beta = 0.01, gamma = 1.0) with SwitOKD's switch. In
# expert mode the paused teacher's divergence term is not applied (the teacher
# takes no step at all); the student's ADM terms apply every step.
_base_ = ['./vgg13_vgg8_cifar100.py']

model = dict(type='SwitOKD', teacher='teacher', require_teacher_better=True)
