"""Deep Mutual Learning (Zhang et al., CVPR 2018)."""
import copy
import inspect
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmokd.registry import MODELS
from ..tasks.det_matching import check_det_peer_configs
from ..utils import build_loss
from .online_distill import OnlineDistill

#: Recorder of every peer's logits, set up by DML and the methods built on
#: it (KDCL, SwitOKD); read with ``OnlineDistill.record(peer, LOGITS)``.
LOGITS = 'logits'


def dml_term(source: Optional[str] = None,
             stage: Optional[str] = None) -> str:
    """Name of a peer's mimicry term: ``'loss_dml'`` (``'loss_dml_rpn'``
    on a two-stage detector's RPN, ``stage='rpn'``), or with
    ``per_source_terms`` the term toward one other peer,
    ``'loss_dml_{source}'`` (``'loss_dml_rpn_{source}'``)."""
    name = 'loss_dml' if stage is None else f'loss_dml_{stage}'
    return name if source is None else f'{name}_{source}'


def logits_stage(logits: Union[str, dict]) -> Optional[str]:
    """``'rpn'`` when ``model.logits`` records a two-stage detector's RPN
    (``dict(type='mmokd.DenseHead', source='rpn_head')``), whose term is
    then ``loss_dml_rpn`` beside the RoI head's ``loss_dml_roi``; else
    None.

    Args:
        logits (str | dict): ``model.logits`` (see
            :func:`distiller_recording_logits`).

    Returns:
        str, optional: The stage suffix of the mimicry term.
    """
    configs = [logits] if isinstance(logits, str) or 'type' in logits \
        else list(logits.values())
    rpn = [
        isinstance(cfg, dict) and cfg.get('source') == 'rpn_head'
        and str(cfg.get('type', '')).split('.')[-1] in ('DenseHead',
                                                        'DenseHeadRecorder')
        for cfg in configs
    ]
    return 'rpn' if rpn and all(rpn) else None


def distiller_recording_logits(distiller: Optional[dict],
                               logits: Union[str, dict],
                               names: List[str]) -> Tuple[dict, dict, dict]:
    """A copy of ``distiller`` with a :data:`LOGITS` recorder on every
    peer.

    Args:
        distiller (dict, optional): The user's distiller config; defaults
            to an empty ``mmokd.OnlineDistiller``.
        logits (str | dict): Module whose output is a peer's logits (an
            MMRazor ``ModuleOutputs`` recorder), or a recorder config
            with a ``type`` (e.g. ``dict(type='mmokd.DenseHead',
            source='bbox_head')`` for detectors); one for all peers or
            ``{peer: module name or recorder config}``
            (``model.logits``).
        names (list[str]): The peers.

    Returns:
        tuple: ``(distiller, losses, mappings)``: the config and its
        ``losses`` / ``loss_forward_mappings`` tables, to be filled.
    """
    if isinstance(logits, str) or 'type' in logits:
        logits = {name: logits for name in names}
    missing = set(names) - set(logits)
    if missing:
        raise ValueError(f'model.logits: no logits module for peers '
                         f'{sorted(missing)}.')
    distiller = copy.deepcopy(
        dict(distiller or dict(type='mmokd.OnlineDistiller')))
    recorders = distiller.setdefault('recorders', {})
    for name in names:
        source = logits[name]
        recorders.setdefault(name, {})[LOGITS] = dict(
            type='ModuleOutputs', source=source) if isinstance(
                source, str) else copy.deepcopy(dict(source))
    return (distiller, distiller.setdefault('losses', {}),
            distiller.setdefault('loss_forward_mappings', {}))


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
    term is per pixel, ignoring label 255. Detectors record their dense
    head with ``logits=dict(type='mmokd.DenseHead', source='bbox_head')``
    and mimic per prior with ``mmokd.DetDMLLoss``. Further terms (e.g.
    ADM's) are added through ``distiller``.

    Example:
        >>> model = dict(
        ...     type='mmokd.DML',
        ...     peers=dict(student=dict(...), teacher=dict(...)),
        ...     logits='head.fc',
        ...     dml_loss=dict(type='mmokd.DMLLoss', tau=1.0,
        ...                   loss_weight=1.0))

    Args:
        peers (dict): See :class:`OnlineDistill`.
        logits (str | dict): Module whose output is a peer's logits, or a
            recorder config (see :func:`distiller_recording_logits`); one
            for all peers or ``{peer: name or config}``.
        dml_loss (dict): Config of :class:`DMLLoss` (or
            ``mmokd.DetDMLLoss``); each peer owns a copy named
            ``loss_dml`` (``loss_dml_rpn`` on a two-stage detector's RPN,
            :func:`logits_stage`). The batch labels are routed to its ``gt``
            argument when its ``forward`` takes one.
        distiller (dict, optional): Extra recorders and terms; DML's own
            are merged in. Defaults to an empty ``OnlineDistiller``.
        per_source_terms (list[str]): Peers whose mimicry loss is split
            into one term per other network, ``loss_dml_{other}`` (same
            total), instead of one ``loss_dml``; SwitOKD weights them
            per teacher-student pair.
        **kwargs: Other arguments of :class:`OnlineDistill`.
    """

    #: Whether the method's terms reuse a detection head's own targets
    #: (labels, label weights): then its assigner must not depend on the
    #: predictions (:func:`~mmokd.models.tasks.det_matching.check_det_peers`).
    uses_head_targets: bool = False

    def __init__(self,
                 peers: Dict[str, dict],
                 logits: Union[str, Dict[str, str]],
                 dml_loss: Optional[dict] = None,
                 distiller: Optional[dict] = None,
                 per_source_terms: Sequence[str] = (),
                 **kwargs) -> None:
        names = list(peers)
        # Detectors: same preprocessing, class count and prior layout
        # (checked on the configs, before anything is built).
        check_det_peer_configs(peers, kwargs.get('student', 'student'),
                               kwargs.get('num_classes'), logit_terms=True,
                               target_terms=self.uses_head_targets)
        dml_loss = dml_loss or dict(type='mmokd.DMLLoss')
        # Refuses bad settings; tells whether the loss reads labels.
        takes_labels = 'gt' in inspect.signature(
            build_loss(dml_loss, 'model.dml_loss').forward).parameters
        distiller, losses, mappings = distiller_recording_logits(
            distiller, logits, names)
        unknown = set(per_source_terms) - set(names)
        if unknown:
            raise ValueError(f'model.per_source_terms: {sorted(unknown)} '
                             f'are not peers {names}.')
        stage = logits_stage(logits)
        for name in names:
            others = [other for other in names if other != name]
            if name in per_source_terms:
                terms = {dml_term(other, stage): [other] for other in others}
            else:
                terms = {dml_term(stage=stage): others}
            for term, sources in terms.items():
                losses.setdefault(name, {})[term] = self._source_loss(
                    dml_loss, len(sources), len(others))
                mapping = dict(
                    preds_S=dict(peer=name, recorder=LOGITS),
                    preds_T=[
                        dict(peer=other, recorder=LOGITS)
                        for other in sources
                    ])
                if takes_labels:
                    mapping['gt'] = dict(data='gt')
                mappings.setdefault(name, {})[term] = mapping
        super().__init__(peers=peers, distiller=distiller, **kwargs)
        self.dml_stage = stage

    @staticmethod
    def _source_loss(dml_loss: dict, num_sources: int, num_peers: int) -> dict:
        """The loss config of a term over ``num_sources`` of the
        ``num_peers`` other networks; a one-source term of a mean over
        peers is weighted ``1 / num_peers``."""
        cfg = copy.deepcopy(dml_loss)
        if num_sources < num_peers and \
                cfg.get('peer_reduction', 'mean') == 'mean':
            cfg['loss_weight'] = cfg.get('loss_weight', 1.0) / num_peers
        return cfg
