# DML, RetinaNet R101-FPN (teacher) <-> R50-FPN (student), COCO 2017, 1x,
# total batch 16 (8 GPUs x 2); as retinanet_r101_r18_coco.py with an R50
# student (same SGD lr 0.01 for both, from their mmdet configs).
_base_ = ['./retinanet_r101_r18_coco.py']

model = dict(
    peers=dict(
        student=dict(
            cfg_path='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')))
