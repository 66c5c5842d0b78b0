# KDCL + ADM, ResNet-34 (teacher) <-> ResNet-18 (student), ImageNet-1k, total
# batch 256 = 8 GPUs x 32, 100 epochs, SGD lr 0.1 (x0.1 every 30 epochs), wd
# 1e-4; base KDCL MinLogit, tau = 1, lambda = 1; ADM alpha = 0.2, beta = 0.6,
# gamma = 0.01 with the consensus term in the KD form, as in the DML + ADM
# config (ADM paper Sec. 5.1). The larger network is ADM's teacher. ADM's
# similarity map compares the two networks position by position, so both see
# the same image here: KDCL's separate views are switched off. ADM paper
# Table 16: KDCL+ADM 71.78 / 74.34 (S / T).
_base_ = ['./resnet34_resnet18_in1k.py']

# The DML + ADM config with KDCL's ensemble as the base method; tau and
# lambda come from its dml_loss, and the networks share its one view.
model = dict(type='KDCL', ensemble_strategy='minlogit')
