"""Tiny detector pairs and batches shared by the detection tests."""
import copy

from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

from mmokd.registry import MODELS

RETINANET_R18 = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
DML_RETINANET = 'configs/dml/retinanet_r101_r18_coco.py'

#: RetinaNet R18 with a narrow FPN and head and no download: the same
#: structure (five levels, nine anchors, 80 sigmoid classes), cheap on CPU.
TINY_RETINANET = {
    'model.backbone.init_cfg': None,
    'model.neck.out_channels': 32,
    'model.bbox_head.in_channels': 32,
    'model.bbox_head.feat_channels': 32,
    'model.bbox_head.stacked_convs': 1,
}

_NARROW_R18 = {
    'model.backbone.depth': 18,
    'model.backbone.init_cfg': None,
    'model.neck.in_channels': [64, 128, 256, 512],
    'model.neck.out_channels': 32,
}
#: Tiny single-network stand-ins of each detector family (the same head,
#: prior generator and assigner; narrow, ResNet-18, no download):
#: ``{family: (mmdet config, cfg_options)}``.
TINY_DETECTORS = {
    'retinanet': (RETINANET_R18, TINY_RETINANET),
    'gfl': ('mmdet::gfl/gfl_r50_fpn_1x_coco.py',
            dict(_NARROW_R18, **{
                'model.bbox_head.in_channels': 32,
                'model.bbox_head.feat_channels': 32,
                'model.bbox_head.stacked_convs': 1
            })),
    'fcos': ('mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
             dict(_NARROW_R18, **{
                 'model.backbone.style': 'pytorch',
                 'model.bbox_head.in_channels': 32,
                 'model.bbox_head.feat_channels': 32,
                 'model.bbox_head.stacked_convs': 1
             })),
    'faster-rcnn': ('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
                    dict(_NARROW_R18, **{
                        'model.rpn_head.in_channels': 32,
                        'model.rpn_head.feat_channels': 32,
                        'model.roi_head.bbox_roi_extractor.out_channels': 32,
                        'model.roi_head.bbox_head.in_channels': 32,
                        'model.roi_head.bbox_head.fc_out_channels': 64
                    })),
}

#: Native-size pipeline of the tiny COCO images (no 1333x800 resize).
TINY_TRAIN_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs'),
]


def tiny_dml_model_cfg(path=DML_RETINANET, family='retinanet', **model):
    """The ``model`` of a detection config with every peer replaced by the
    tiny detector of ``family`` (``model`` entries override the
    algorithm's)."""
    cfg = Config.fromfile(path).model
    cfg_path, overrides = TINY_DETECTORS[family]
    for name in cfg.peers:
        cfg.peers[name].cfg_path = cfg_path
        cfg.peers[name].cfg_options = dict(overrides)
    cfg.update(model)
    return cfg


def build_algorithm(cfg):
    """Builds an algorithm config and initialises its weights."""
    algorithm = MODELS.build(copy.deepcopy(cfg))
    algorithm.init_weights()
    return algorithm


def tiny_coco_batch(root, indices=(0, 1), pipeline=TINY_TRAIN_PIPELINE):
    """A collated training batch of tiny COCO images."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        dataset = DATASETS.build(
            dict(
                type='CocoDataset',
                data_root=root + '/',
                ann_file='annotations/instances_train2017.json',
                data_prefix=dict(img='train2017/'),
                pipeline=pipeline))
    return pseudo_collate([dataset[i] for i in indices])
