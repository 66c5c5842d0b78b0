"""Deep Mutual Learning (Zhang et al., CVPR 2018)."""
import copy
from typing import Dict, Optional, Union

from mmokd.registry import MODELS
from .online_distill import OnlineDistill


@MODELS.register_module()
class DML(OnlineDistill):
    """Deep Mutual Learning: every network mimics every other one.

    Zhang, Xiang, Hospedales, Lu, "Deep Mutual Learning", CVPR 2018. For
    each peer ``k`` of ``K``::

        L_k = L_task(z_k, y) + lambda * tau^2 / (K - 1)
              * sum_{j != k} KL(p_j || p_k),   p_j detached,

    computed simultaneously for all peers (one forward each, every
    optimizer steps; the form of ADM, ICML 2025, Eq. 4). The logits are the
    outputs of the module named in ``logits`` (e.g. ``head.fc`` for
    mmpretrain, ``decode_head.conv_seg`` for mmseg); for segmentation the
    term is per pixel, ignoring label 255. Further terms (e.g. ADM's) are
    added through ``distiller``.

    Example:
        >>> model = dict(
        ...     type='mmokd.DML',
        ...     peers=dict(student=dict(...), teacher=dict(...)),
        ...     logits='head.fc',
        ...     dml_loss=dict(type='mmokd.DMLLoss', tau=1.0,
        ...                   loss_weight=1.0))

    Args:
        peers (dict): See :class:`OnlineDistill`.
        logits (str | dict): Module whose output is a peer's logits, one
            name for all peers or ``{peer: name}``.
        dml_loss (dict): Config of :class:`DMLLoss`; each peer owns a copy
            named ``loss_dml``.
        distiller (dict, optional): Extra recorders and terms; DML's own
            are merged in. Defaults to an empty ``OnlineDistiller``.
        **kwargs: Other arguments of :class:`OnlineDistill`.
    """

    def __init__(self,
                 peers: Dict[str, dict],
                 logits: Union[str, Dict[str, str]],
                 dml_loss: Optional[dict] = None,
                 distiller: Optional[dict] = None,
                 **kwargs) -> None:
        names = list(peers)
        if isinstance(logits, str):
            logits = {name: logits for name in names}
        missing = set(names) - set(logits)
        if missing:
            raise ValueError(f'model.logits: no logits module for peers '
                             f'{sorted(missing)}.')
        dml_loss = dml_loss or dict(type='mmokd.DMLLoss')
        distiller = copy.deepcopy(
            dict(distiller or dict(type='mmokd.OnlineDistiller')))
        recorders = distiller.setdefault('recorders', {})
        losses = distiller.setdefault('losses', {})
        mappings = distiller.setdefault('loss_forward_mappings', {})
        for name in names:
            recorders.setdefault(name, {})['logits'] = dict(
                type='ModuleOutputs', source=logits[name])
        for name in names:
            losses.setdefault(name, {})['loss_dml'] = copy.deepcopy(dml_loss)
            mappings.setdefault(name, {})['loss_dml'] = dict(
                preds_S=dict(peer=name, recorder='logits'),
                preds_T=[
                    dict(peer=other, recorder='logits') for other in names
                    if other != name
                ],
                gt=dict(data='gt'))
        super().__init__(peers=peers, distiller=distiller, **kwargs)
