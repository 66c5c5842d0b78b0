# KDCL + ADM, ResNet32x4 (teacher) <-> ResNet8x4 (student), CIFAR-100, total
# batch 128 = 1 GPU x 128, 300 epochs, lr 0.1 (x0.1 at 140/200/250), wd 5e-4;
# base KDCL MinLogit, tau = 1, lambda = 1; ADM alpha = beta = 0.01, gamma = 1.0
# (ADM paper Sec. 5.1), feature loss on layer2 and F. The larger network is
# ADM's teacher; both networks see the same crop (KDCL's separate views off:
# ADM's similarity map is position-wise). No paper number (the ADM paper
# reports KDCL+ADM on ImageNet only, Table 16).
_base_ = ['./resnet32x4_resnet8x4_cifar100.py']

# The DML + ADM config with KDCL's ensemble as the base method; tau and
# lambda come from its dml_loss, and the networks share its one view.
model = dict(type='KDCL', ensemble_strategy='minlogit')
