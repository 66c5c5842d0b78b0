# KDCL + ADM, DeepLabV3 R101-D8 (teacher) <-> R18-D8 (student), Cityscapes
# 512x1024, 80k iterations, total batch 8 (4 GPUs x 2); base KDCL MinLogit per
# pixel, tau = 1, lambda = 1; dense ADM on decode_head.bottleneck with the
# ImageNet alpha = 0.2, beta = 0.6, gamma = 0.01, as in the DML + ADM config.
# Both networks see the same image (KDCL's per-network photometric views off,
# so ADM's similarity map compares the same input). No paper number (the ADM
# paper's Table 5 has no KDCL+ADM row).
_base_ = ['./deeplabv3_r101_r18_cityscapes.py']

# The DML + ADM config with KDCL's ensemble as the base method; tau and
# lambda come from its dml_loss, and the networks share its one view.
model = dict(type='KDCL', ensemble_strategy='minlogit')
