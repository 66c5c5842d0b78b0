"""The detection pairs of ``benchmark_online_kd.py --task det``.

Each mmokd variant is the algorithm of a shipped config
(``configs/{dml,adm,switokd,kdcl}/<pair>_coco.py``) over networks built
from the peers of its DML config; MMRazor's nearest counterpart is a
``SingleTeacherDistill`` with a trainable teacher and
``ChannelWiseDivergence`` (Shu et al., "Channel-wise Knowledge
Distillation for Dense Prediction", ICCV 2021) in both directions on the
five FPN levels of the dense head's classification scores, as MMRazor's
own CWD detection config distils GFL's. MMRazor's CWD does not detach
its target, so with a trainable teacher each term also back-propagates
into the network it imitates.
"""
import copy
import functools
import logging
import os.path as osp
from typing import Dict, List, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch import nn

import measurement

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'configs')
#: Config file of each pair (the same name in every method's folder).
PAIRS = dict(
    retinanet='retinanet_r101_r18_coco.py',
    faster_rcnn='faster-rcnn_r101_r50_coco.py')
#: The config folder of each mmokd variant.
METHODS = dict(
    mmokd_dml='dml',
    mmokd_dml_adm='adm',
    mmokd_switokd_expert='switokd',
    mmokd_kdcl='kdcl')
#: The dense classifier conv of each pair (one call per FPN level).
CLASSIFIERS = dict(
    retinanet='bbox_head.retina_cls', faster_rcnn='rpn_head.rpn_cls')
NUM_LEVELS = 5
#: ResNet depth of each network (``--tiny`` narrows them).
DEPTHS = dict(
    retinanet=dict(student=18, teacher=101),
    faster_rcnn=dict(student=50, teacher=101))
#: Variants a pair does not have, and why (``--task det``).
UNAVAILABLE = {
    'mmokd_dml_adm_fused': 'DetADMDistiller has no fused path',
    'mmokd_mcdistil': 'MC-Distil has no detection support',
    'mmokd_mcdistil_meta': 'MC-Distil has no detection support',
}
UNAVAILABLE_FASTER_RCNN = dict(
    UNAVAILABLE,
    mmokd_kdcl='KDCL on two-stage detectors is refused; configs/kdcl '
    'ships no Faster R-CNN')


def unavailable(pair: str) -> Dict[str, str]:
    """``{variant: reason}`` of the variants ``pair`` lacks.

    Args:
        pair (str): A key of :data:`PAIRS`.

    Returns:
        dict: The variants and why.
    """
    return UNAVAILABLE_FASTER_RCNN if pair == 'faster_rcnn' else UNAVAILABLE


def shipped_model(method: str, pair: str) -> dict:
    """The ``model`` of ``configs/<method>/<pair>`` as a plain dict (a
    copy: the parsed file is kept, parsing its mmdet bases takes half a
    second).

    Args:
        method (str): Config folder (``'dml'``, ``'adm'``, ...).
        pair (str): A key of :data:`PAIRS`.

    Returns:
        dict: The algorithm's config.
    """
    return copy.deepcopy(_parsed_model(method, pair))


@functools.lru_cache(maxsize=None)
def _parsed_model(method: str, pair: str) -> dict:
    """:func:`shipped_model`, parsed once."""
    return Config.fromfile(osp.join(CONFIGS, method,
                                    PAIRS[pair])).model.to_dict()


def tiny_options(depth: int, two_stage: bool) -> dict:
    """``cfg_options`` making an mmdet ResNet-FPN detector
    :data:`measurement.TINY_WIDTH` wide (``--tiny``): backbone, FPN and
    heads narrowed, the same levels, priors and classes.

    Args:
        depth (int): ResNet depth (bottleneck blocks from 50).
        two_stage (bool): Faster R-CNN (RPN and RoI head) rather than a
            RetinaNet head.

    Returns:
        dict: The options.
    """
    width = measurement.TINY_WIDTH
    expansion = 4 if depth >= 50 else 1
    fpn = 4 * width
    options = {
        'model.backbone.base_channels': width,
        'model.backbone.stem_channels': width,
        'model.neck.in_channels':
        [width * expansion * 2**i for i in range(4)],
        'model.neck.out_channels': fpn,
    }
    if two_stage:
        options.update({
            'model.rpn_head.in_channels': fpn,
            'model.rpn_head.feat_channels': fpn,
            'model.roi_head.bbox_roi_extractor.out_channels': fpn,
            'model.roi_head.bbox_head.in_channels': fpn,
            'model.roi_head.bbox_head.fc_out_channels': 2 * fpn,
        })
    else:
        options.update({
            'model.bbox_head.in_channels': fpn,
            'model.bbox_head.feat_channels': fpn,
        })
    return options


def build_peer(pair: str, role: str, tiny: bool) -> nn.Module:
    """One network of the DML config of ``pair``, as its mmdet config
    builds it (no pretrained download; heads initialised as mmdet does).

    Args:
        pair (str): A key of :data:`PAIRS`.
        role (str): ``'student'`` or ``'teacher'``.
        tiny (bool): Narrow it (:func:`tiny_options`).

    Returns:
        nn.Module: The detector.
    """
    from mmokd.models.builders import ExternalModel
    peer = shipped_model('dml', pair)['peers'][role]
    options = dict(peer.get('cfg_options') or {})
    options['model.backbone.init_cfg'] = None
    if tiny:
        options.update(
            tiny_options(DEPTHS[pair][role], pair == 'faster_rcnn'))
    model = ExternalModel(peer['cfg_path'], options)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # not one line per parameter
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
    return model


def build_algorithm(name: str, pair: str, peers: Dict[str, nn.Module],
                    tiny: bool) -> nn.Module:
    """The algorithm of the shipped config of mmokd variant ``name`` over
    ``peers``.

    Args:
        name (str): A key of :data:`METHODS`.
        pair (str): A key of :data:`PAIRS`.
        peers (dict): ``{student: detector, teacher: detector}``.
        tiny (bool): The networks are :func:`tiny_options`-narrow (ADM's
            ``channels`` follow their FPN).

    Returns:
        nn.Module: The algorithm.
    """
    from mmokd.registry import MODELS
    cfg = shipped_model(METHODS[name], pair)
    cfg['peers'] = peers
    distiller = cfg.get('distiller') or {}
    if tiny and 'channels' in distiller:
        fpn = 4 * measurement.TINY_WIDTH
        distiller['channels'] = {role: fpn for role in distiller['channels']}
    return MODELS.build(cfg)


def mmrazor_terms(pair: str) -> Tuple[str, dict, int]:
    """MMRazor's terms for ``pair``: ``ChannelWiseDivergence`` (tau 1) on
    the classification scores of every FPN level of the dense head (the
    RPN's objectness for Faster R-CNN; MMRazor has no RoI term).

    Args:
        pair (str): A key of :data:`PAIRS`.

    Returns:
        tuple: The recorded module, the loss, and how often the module
        runs in a forward (:data:`NUM_LEVELS`).
    """
    return (CLASSIFIERS[pair],
            dict(type='ChannelWiseDivergence', tau=1.0, loss_weight=1.0),
            NUM_LEVELS)


def make_batch(size: List[int], batch: int,
               generator: torch.Generator) -> dict:
    """A dataloader-style detection batch: uint8 images of ``size`` and
    four ground-truth boxes of random classes per image, each 1/16 to 1/4
    of the image's sides.

    Args:
        size (list[int]): ``(H, W)``.
        batch (int): Images.
        generator (Generator): The random source.

    Returns:
        dict: ``inputs`` and ``data_samples`` (``DetDataSample``).
    """
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    h, w = size
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(
            torch.randint(0, 256, (3, h, w), generator=generator,
                          dtype=torch.uint8))
        scale = torch.tensor([w, h], dtype=torch.float32)
        extent = (1 + 3 * torch.rand(4, 2, generator=generator)) / 16 * scale
        corner = torch.rand(4, 2, generator=generator) * (scale - extent)
        sample = DetDataSample()
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([corner, corner + extent], dim=1),
            labels=torch.randint(0, 80, (4, ), generator=generator))
        sample.set_metainfo(
            dict(img_shape=(h, w), ori_shape=(h, w),
                 scale_factor=(1.0, 1.0)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
