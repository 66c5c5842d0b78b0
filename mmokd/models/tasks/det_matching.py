"""What detection peers must share before they can train together.

One preprocessed batch feeds every peer, so every method needs the same
preprocessing and class count. Terms on class logits (DML, KDCL, SwitOKD)
compare priors one to one, so they also need the same prior layout: the
dense head's prior generator (strides, scales, ratios, offset), FCOS's
``regress_ranges``, the class count and the activation. Terms that reuse
the head's own targets need an assigner that does not depend on the
predictions. Each check reads the peers' model configs, so
``tools/train.py`` runs it before anything is built and the algorithms
again when they are built.
"""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple, Union

from torch import nn

#: Preprocessing settings of ``DetDataPreprocessor`` with their defaults.
PREPROCESSING = (('mean', None), ('std', None), ('bgr_to_rgb', False),
                 ('rgb_to_bgr', False), ('pad_size_divisor', 1),
                 ('pad_value', 0))
#: Dense-head settings that fix which prior a logit row belongs to.
LAYOUT = ('anchor_generator', 'prior_generator', 'strides', 'regress_ranges',
          'loss_cls.use_sigmoid')
#: Assigners whose targets do not depend on the predictions; the
#: label-using terms (KDCL, SwitOKD, ADM) reuse the head's targets.
STATIC_ASSIGNERS = ('MaxIoUAssigner', 'ATSSAssigner')
#: Heads that assign without an assigner, by a fixed rule (FCOS: points
#: inside a box and its scale range).
RULE_HEADS = ('FCOSHead', )
ADM_HINT = ("feature-level ADM (type='mmokd.OnlineDistill' with "
            "distiller=dict(type='mmokd.ADMDistiller', ...)) needs only "
            'aligned FPN levels')


def peer_model_config(cfg: Union[dict, nn.Module],
                      num_classes: Optional[int] = None) -> Optional[dict]:
    """The model config a peer config builds.

    Args:
        cfg (dict | nn.Module): A peer of ``model.peers``:
            ``mmokd.ExternalModel`` (its file is loaded, ``cfg_options``
            applied), an inline model dict, or a built network.
        num_classes (int, optional): The algorithm's ``num_classes``.

    Returns:
        dict, optional: The model config; None for a built network.
    """
    if isinstance(cfg, nn.Module):
        return None
    if str(cfg.get('type', '')).split('.')[-1] == 'ExternalModel':
        from ..builders.external_model import load_model_config
        return load_model_config(cfg['cfg_path'], cfg.get('cfg_options'),
                                 cfg.get('norm_type'),
                                 cfg.get('num_classes', num_classes)).model
    return copy.deepcopy(dict(cfg))


def _get(cfg: Any, dotted: str) -> Any:
    """``cfg['a']['b']`` for ``'a.b'``; None when a level is missing."""
    for key in dotted.split('.'):
        if not isinstance(cfg, dict) or key not in cfg:
            return None
        cfg = cfg[key]
    return cfg


def _mmdet_class(type_name: Any) -> Optional[type]:
    """The mmdet model class a config ``type`` names, or None."""
    if not isinstance(type_name, str):
        return type_name if isinstance(type_name, type) else None
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(False)
    return MMDET_MODELS.get(type_name.split('.')[-1])


def is_detector_config(model: Optional[dict]) -> bool:
    """Whether a model config describes an mmdet detector.

    Args:
        model (dict, optional): A model config.

    Returns:
        bool: True for an mmdet ``BaseDetector`` subclass.
    """
    if not isinstance(model, dict):
        return False
    try:
        from mmdet.models.detectors import BaseDetector
    except ImportError:  # mmdet is not installed
        return False
    cls = _mmdet_class(model.get('type'))
    return isinstance(cls, type) and issubclass(cls, BaseDetector)


def dense_head_key(model: dict) -> str:
    """The dense head whose class maps detection terms read:
    ``'rpn_head'`` of a two-stage detector, else ``'bbox_head'``."""
    return 'rpn_head' if isinstance(model.get('rpn_head'), dict) else \
        'bbox_head'


def det_num_classes(model: dict) -> Optional[int]:
    """``num_classes`` of the detector config's class-predicting head."""
    return _get(model, 'bbox_head.num_classes') or _get(
        model, 'roi_head.bbox_head.num_classes')


def _assigners(model: dict) -> List[Tuple[str, Any]]:
    """``(field, assigner type)`` of every target assignment the
    label-using terms reuse."""
    head = dense_head_key(model)
    if head == 'rpn_head':
        return [('train_cfg.rpn.assigner.type',
                 _get(model, 'train_cfg.rpn.assigner.type'))]
    head_type = str(_get(model, 'bbox_head.type')).split('.')[-1]
    if head_type in RULE_HEADS:
        return []
    return [('train_cfg.assigner.type',
             _get(model, 'train_cfg.assigner.type'))]


def _differences(ref: dict, other: dict, keys: List[str]) -> List[str]:
    """``'key: a vs b'`` for each dotted key whose values differ."""
    return [
        f'{key}: {_get(other, key)!r} vs {_get(ref, key)!r}' for key in keys
        if _get(other, key) != _get(ref, key)
    ]


def check_det_peers(models: Dict[str, Optional[dict]],
                    student: str,
                    logit_terms: bool,
                    target_terms: bool = False,
                    field: str = 'model.peers') -> None:
    """Refuses detection peers that cannot train together, naming the peer
    and the differing setting.

    Args:
        models (dict): ``{peer: model config}`` (:func:`peer_model_config`;
            None entries, built networks, are skipped).
        student (str): The peer the others are compared with.
        logit_terms (bool): Whether terms compare class logits prior by
            prior (DML, KDCL, SwitOKD): the prior layouts must match.
        target_terms (bool): Whether terms reuse the heads' own targets
            (KDCL, SwitOKD, ADM): the assigners must not depend on the
            predictions.
        field (str): The config field of the peers, for errors.

    Raises:
        ValueError: A query-based detector, other preprocessing, another
            class count, another prior layout (``logit_terms``) or a
            prediction-dependent assigner (``target_terms``).
    """
    from mmdet.models.detectors import DetectionTransformer
    models = {name: m for name, m in models.items() if m is not None}
    for name, model in models.items():
        cls = _mmdet_class(model.get('type'))
        if isinstance(cls, type) and issubclass(cls, DetectionTransformer):
            raise ValueError(
                f'{field}.{name}: {model["type"]} is a query-based detector '
                '(DETR family): it has no per-prior class maps to distill. '
                'Use a dense-head detector (RetinaNet, GFL, FCOS, Faster '
                'R-CNN).')
    ref = models.get(student)
    if ref is None:
        return
    preprocessing = [f'data_preprocessor.{key}' for key, _ in PREPROCESSING]
    defaults = {f'data_preprocessor.{k}': v for k, v in PREPROCESSING}
    for name, model in models.items():
        if name == student:
            continue

        def value(cfg: dict, key: str) -> Any:
            got = _get(cfg, key)
            return defaults[key] if got is None else got

        differ = [
            f'{key}: {value(model, key)!r} vs {value(ref, key)!r}'
            for key in preprocessing if value(model, key) != value(ref, key)
        ]
        if differ:
            raise ValueError(
                f'{field}.{name}: its preprocessing differs from the '
                f'student\'s ({"; ".join(differ)}), but one preprocessed '
                'batch feeds every network. Give both the same '
                'data_preprocessor (e.g. a caffe-style and a pytorch-style '
                'backbone need the same mean, std and channel order).')
        if det_num_classes(model) != det_num_classes(ref):
            raise ValueError(
                f'{field}.{name}: predicts {det_num_classes(model)} classes, '
                f'the student {det_num_classes(ref)}; set model.num_classes '
                'once or the same num_classes in every head.')
        head, ref_head = dense_head_key(model), dense_head_key(ref)
        if logit_terms:
            keys = [f'{head}.{key}' for key in LAYOUT]
            differ = [] if head == ref_head else [
                f'dense head {head} vs {ref_head}'
            ]
            differ += _differences(ref, model, keys)
            if differ:
                raise ValueError(
                    f'{field}.{name}: its prior layout differs from the '
                    f'student\'s ({_get(model, head + ".type")} vs '
                    f'{_get(ref, ref_head + ".type")}; '
                    f'{"; ".join(differ)}), so its class logits cannot be '
                    'compared prior by prior (DML, KDCL, SwitOKD). Use '
                    'detectors with the same prior generator, strides and '
                    f'classifier activation, or {ADM_HINT}.')
    if target_terms:
        for name, model in models.items():
            for key, assigner in _assigners(model):
                if assigner not in STATIC_ASSIGNERS:
                    raise ValueError(
                        f'{field}.{name}: {key} is {assigner!r}; the terms '
                        "that use labels reuse the head's own targets, "
                        'which need an assigner independent of the '
                        f'predictions ({", ".join(STATIC_ASSIGNERS)}, or '
                        'FCOS\'s rule). TOOD, PAA, YOLOX and RTMDet assign '
                        'from the predictions: use DML instead.')


def check_det_peer_configs(peers: Dict[str, Union[dict, nn.Module]],
                           student: str,
                           num_classes: Optional[int],
                           logit_terms: bool,
                           target_terms: bool = False) -> None:
    """:func:`check_det_peers` on an algorithm's ``model.peers`` configs,
    when they describe detectors (nothing is checked otherwise).

    Args:
        peers (dict): ``model.peers``.
        student (str): ``model.student``.
        num_classes (int, optional): ``model.num_classes``.
        logit_terms (bool): See :func:`check_det_peers`.
        target_terms (bool): See :func:`check_det_peers`.
    """
    if not any(declares_mmdet(cfg) for cfg in peers.values()):
        return  # no mmdet import, no config loaded for other peers
    models = {
        name: peer_model_config(cfg, num_classes)
        for name, cfg in peers.items()
    }
    if any(is_detector_config(model) for model in models.values()):
        check_det_peers(models, student, logit_terms, target_terms)


def declares_mmdet(cfg: Union[dict, nn.Module]) -> bool:
    """Whether a peer config is an mmdet model: an ``ExternalModel`` of an
    ``mmdet::`` config or of a local config in mmdet's scope, or a type
    prefixed ``mmdet.``."""
    if isinstance(cfg, nn.Module):
        return False
    kind = str(cfg.get('type', ''))
    if kind.split('.')[-1] != 'ExternalModel':
        return kind.startswith('mmdet.')
    path = str(cfg.get('cfg_path', ''))
    if '::' in path:
        return path.startswith('mmdet::')
    from mmengine.config import Config
    return osp.isfile(path) and \
        Config.fromfile(path).get('default_scope') == 'mmdet'


def refuse_gpd_detectors(networks: Dict[str, Union[dict, nn.Module,
                                                   None]]) -> None:
    """Refuses mmdet detectors in GPD (its dynamic teacher widens every
    layer of the student; detection heads are not supported), naming the
    field. ``tools/train.py`` runs it on the config, GPD again when built.

    Args:
        networks (dict): ``{config field: network config or module}``,
            e.g. ``{'model.architecture': ..., 'model.teacher': ...}``;
            None entries are skipped.

    Raises:
        ValueError: A network is an mmdet detector.
    """
    for field, network in networks.items():
        if network is None:
            continue
        if isinstance(network, nn.Module):
            detector = type(network).__module__.startswith('mmdet.')
        else:
            detector = declares_mmdet(network) or \
                network.get('_scope_') == 'mmdet'
        if detector:
            raise ValueError(
                f'{field}: GPD widens every layer of the student into a '
                'dynamic teacher; mmdet detectors are not supported. Use '
                'DML, KDCL, SwitOKD or ADM for detection.')
