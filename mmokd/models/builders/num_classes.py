"""One class count for every network of an algorithm (``model.num_classes``).

mmengine resolves a config's variables when its file is read: a child
config (or ``--cfg-options``) that changes a base file's ``num_classes``
variable does not reach the heads the base already declared with it. The
algorithms therefore take ``num_classes`` themselves and write it into each
network's config before building it, so one field sets them all.
"""
import copy
from typing import List, Optional, Tuple, Union

from torch import nn

#: Fields of mmpretrain classifiers / mmseg segmentors / mmdet single-stage
#: detectors holding class counts.
HEAD_KEYS = ('head', 'decode_head', 'auxiliary_head', 'bbox_head')
#: Heads of an mmdet two-stage detector's ``roi_head`` holding class
#: counts (its ``rpn_head`` has one class, object, and is not set).
ROI_HEAD_KEYS = ('bbox_head', 'mask_head')


def _heads(parent: dict, keys: Tuple[str, ...]) -> List[dict]:
    """The head configs under ``keys`` of ``parent``, each a dict or a
    list of dicts (mmseg's auxiliary heads, cascade RoI heads)."""
    found = []
    for key in keys:
        value = parent.get(key)
        for head in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(head, dict):
                found.append(head)
    return found


def with_num_classes(cfg: Optional[Union[dict, nn.Module]],
                     num_classes: Optional[int],
                     field: str) -> Optional[Union[dict, nn.Module]]:
    """A copy of a network config predicting ``num_classes`` classes.

    Sets ``num_classes`` of ``head`` (mmpretrain), ``decode_head`` and every
    ``auxiliary_head`` (mmseg), ``bbox_head`` (mmdet single-stage) or the
    ``roi_head``'s ``bbox_head`` and ``mask_head`` (mmdet two-stage; the
    RPN's single object class stays), and of the network's own
    ``data_preprocessor`` when it has one; an ``mmokd.ExternalModel``
    passes it on to the model it loads. Built modules and a ``None``
    config or count are returned as they are.

    Example:
        >>> with_num_classes(dict(type='ImageClassifier', head=dict(
        ...     type='LinearClsHead', num_classes=100, in_channels=64)),
        ...     10, 'model.peers.student')['head']['num_classes']
        10

    Args:
        cfg (dict | nn.Module, optional): The network's config.
        num_classes (int, optional): The class count; None keeps the
            config's own.
        field (str): The config field of the network, for errors.

    Returns:
        dict | nn.Module | None: The updated copy, or ``cfg`` itself.

    Raises:
        ValueError: The config has no head to set.
    """
    if num_classes is None or cfg is None or isinstance(cfg, nn.Module):
        return cfg
    cfg = copy.deepcopy(cfg)
    if str(cfg.get('type', '')).split('.')[-1] == 'ExternalModel':
        cfg['num_classes'] = num_classes
        return cfg
    heads = _heads(cfg, HEAD_KEYS)
    if isinstance(cfg.get('roi_head'), dict):
        heads += _heads(cfg['roi_head'], ROI_HEAD_KEYS)
    if not heads:
        raise ValueError(
            f'{field}: model.num_classes needs a network with a "head" '
            '(mmpretrain), "decode_head" (mmseg), "bbox_head" or '
            '"roi_head.bbox_head" (mmdet) to set; this one has '
            f'{sorted(cfg)}. Set its class count in its own config and '
            'leave model.num_classes unset.')
    for head in heads:
        head['num_classes'] = num_classes
    preprocessor = cfg.get('data_preprocessor')
    if isinstance(preprocessor, dict) and 'num_classes' in preprocessor:
        preprocessor['num_classes'] = num_classes
    return cfg


def preprocessor_with_num_classes(
        cfg: Optional[Union[dict, nn.Module]],
        num_classes: Optional[int]) -> Optional[Union[dict, nn.Module]]:
    """A data preprocessor config with ``num_classes`` set if it has one
    (mmpretrain's ``ClsDataPreprocessor`` uses it for batch augments).

    Args:
        cfg (dict | nn.Module, optional): The preprocessor config.
        num_classes (int, optional): The class count; None keeps it.

    Returns:
        dict | nn.Module | None: The updated copy, or ``cfg`` itself.
    """
    if num_classes is None or not isinstance(cfg, dict) \
            or 'num_classes' not in cfg:
        return cfg
    return dict(copy.deepcopy(cfg), num_classes=num_classes)
