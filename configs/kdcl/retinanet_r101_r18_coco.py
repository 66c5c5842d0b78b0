# KDCL (Guo et al., CVPR 2020) on the networks, schedule and total batch (16 =
# 8 GPUs x 2) of ../dml/retinanet_r101_r18_coco.py, COCO 2017: one MinLogit
# ensemble per prior and class of the dense heads (binary MinLogit, the student
# head's own labels as y), every network's binary KL towards it over the
# assigned priors (tau = 1, lambda = 1 from the DML config); one shared view
# (docs/design.md "Detection"). No published KDCL result on COCO
# (configs/kdcl/README.md).
_base_ = ['../dml/retinanet_r101_r18_coco.py']

model = dict(type='KDCL', ensemble_strategy='minlogit')
