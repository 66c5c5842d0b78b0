"""Routing of ADM's terms between a teacher and a student."""
import copy
from typing import Dict, List, Optional, Union

from mmokd.registry import MODELS
from .online_distiller import OnlineDistiller

PerPeer = Union[str, Dict[str, str]]


def _per_peer(value: PerPeer, student: str, teacher: str) -> Dict[str, str]:
    """One module name for both peers, or ``{student: .., teacher: ..}``."""
    if isinstance(value, str):
        return {student: value, teacher: value}
    return {student: value[student], teacher: value[teacher]}


@MODELS.register_module()
class ADMDistiller(OnlineDistiller):
    """Adds ADM's three terms to any online method's distiller.

    Chen et al., "Asymmetric Decision-Making in Online Knowledge
    Distillation: Unifying Consensus and Divergence", ICML 2025, Eq. 10::

        student:  + gamma * L_feat + alpha * L_co     (consensus learning)
        teacher:  + beta * L_di                       (divergence learning)

    ``F`` is each network's penultimate map (``feature``: e.g. the
    ``backbone`` output for mmpretrain classifiers, ``decode_head.
    bottleneck`` for mmseg heads) and ``classifier`` its own last layer
    (``head.fc`` / ``decode_head.conv_seg``). A 1x1 adapter ``phi`` (owned
    and optimised by the student; the only parameters ADM adds) maps the
    student's map to the teacher's channels for ``L_feat`` and, when the
    channel counts differ, for the similarity map. The base method's own
    recorders and terms (e.g. DML's ``loss_dml``) are kept: this class is
    merged into the base config's ``model.distiller`` by inheritance.

    Example (CIFAR-100 ResNet32x4 / ResNet8x4, paper Sec. 5.1)::

        model = dict(distiller=dict(
            type='mmokd.ADMDistiller',
            feature=dict(source='backbone', data_idx=-1),
            classifier='head.fc',
            channels=dict(student=256, teacher=256),
            alpha=0.01, beta=0.01, gamma=1.0))

    Args:
        feature (dict): ``source`` (module name, or ``{peer: name}``) of
            the penultimate map and optional ``data_idx`` when the module
            returns a tuple.
        classifier (str | dict): Classifier module (its ``weight`` and
            ``bias`` are used), one name or ``{peer: name}``.
        channels (dict): ``{student: C_s, teacher: C_t}`` of ``F``.
        alpha (float): Consensus weight.
        beta (float): Divergence weight.
        gamma (float): Feature distillation weight.
        feature_stages (list[dict], optional): Shallower stages for
            ``L_feat``, shallow to deep, each ``dict(source=name or {peer:
            name}, data_idx=None, channels={student: C, teacher: C})``;
            ``F`` is always added as the deepest stage (weight 1/2).
        consensus_form (str): ``'ce'`` or ``'kd'`` (paper Table 15).
        student (str): Student peer name. Defaults to ``'student'``.
        teacher (str): Teacher peer name. Defaults to ``'teacher'``.
        eps (float): Attention epsilon. Defaults to 1e-5.
        ignore_index (int): Ignored label for segmentation.
        **kwargs: Further recorders / losses / mappings / connectors of
            :class:`OnlineDistiller` (the base method's).
    """

    def __init__(self,
                 feature: dict,
                 classifier: PerPeer,
                 channels: Dict[str, int],
                 alpha: float,
                 beta: float,
                 gamma: float,
                 feature_stages: Optional[List[dict]] = None,
                 consensus_form: str = 'ce',
                 student: str = 'student',
                 teacher: str = 'teacher',
                 eps: float = 1e-5,
                 ignore_index: int = 255,
                 **kwargs) -> None:
        s, t = student, teacher
        recorders = copy.deepcopy(dict(kwargs.pop('recorders', None) or {}))
        losses = copy.deepcopy(dict(kwargs.pop('losses', None) or {}))
        mappings = copy.deepcopy(
            dict(kwargs.pop('loss_forward_mappings', None) or {}))
        connectors = copy.deepcopy(
            dict(kwargs.pop('connectors', None) or {}))
        for peer in (s, t):
            recorders.setdefault(peer, {})
            losses.setdefault(peer, {})
            mappings.setdefault(peer, {})
        connectors.setdefault(s, {})

        def record(peer: str, name: str, source: str, kind: str) -> None:
            recorders[peer][name] = dict(type=kind, source=source)

        def ref(peer: str, name: str, data_idx=None, connector=None):
            out = dict(peer=peer, recorder=name)
            if data_idx is not None:
                out['data_idx'] = data_idx
            if connector is not None:
                out['connector'] = connector
            return out

        def adapter(name: str, c_s: int, c_t: int) -> None:
            connectors[s][name] = dict(
                type='ConvModuleConnector', in_channel=c_s,
                out_channel=c_t, kernel_size=1, act_cfg=None)

        feat_src = _per_peer(feature['source'], s, t)
        feat_idx = feature.get('data_idx')
        cls_src = _per_peer(classifier, s, t)
        for peer in (s, t):
            record(peer, 'adm_feat', feat_src[peer], 'ModuleOutputs')
            record(peer, 'adm_weight', cls_src[peer] + '.weight',
                   'Parameter')
            record(peer, 'adm_bias', cls_src[peer] + '.bias', 'Parameter')
        if gamma == 0 and channels[s] != channels[t]:
            raise ValueError(
                'model.distiller.gamma: the similarity map compares the '
                'student through the 1x1 adapter when channel counts differ '
                f'({channels[s]} vs {channels[t]}), and only the feature '
                'loss trains it; set gamma > 0.')
        feat_s = ref(s, 'adm_feat', feat_idx)
        feat_t = ref(t, 'adm_feat', feat_idx)
        aligned = ref(s, 'adm_feat', feat_idx, 'adm_adapter') \
            if channels[s] != channels[t] else feat_s

        gt = dict(data='gt')
        if gamma > 0:
            adapter('adm_adapter', channels[s], channels[t])
            stages_s, stages_t = [], []
            for i, stage in enumerate(feature_stages or []):
                src = _per_peer(stage['source'], s, t)
                name, conn = f'adm_stage{i}', f'adm_adapter{i}'
                record(s, name, src[s], 'ModuleOutputs')
                record(t, name, src[t], 'ModuleOutputs')
                adapter(conn, stage['channels'][s], stage['channels'][t])
                stages_s.append(ref(s, name, stage.get('data_idx'), conn))
                stages_t.append(ref(t, name, stage.get('data_idx')))
            # F itself is always the deepest stage: this trains the adapter
            # that the similarity map compares through.
            stages_s.append(ref(s, 'adm_feat', feat_idx, 'adm_adapter'))
            stages_t.append(feat_t)
            losses[s]['loss_adm_feat'] = dict(
                type='mmokd.ADMFeatureLoss', loss_weight=gamma)
            mappings[s]['loss_adm_feat'] = dict(
                feats_s_aligned=stages_s, feats_t=stages_t)
        if alpha > 0:
            losses[s]['loss_adm_consensus'] = dict(
                type='mmokd.ADMConsensusLoss', loss_weight=alpha,
                form=consensus_form, eps=eps, ignore_index=ignore_index)
            mappings[s]['loss_adm_consensus'] = dict(
                feat_s=feat_s, feat_s_aligned=aligned, feat_t=feat_t,
                weight_s=ref(s, 'adm_weight'), bias_s=ref(s, 'adm_bias'),
                gt=gt, weight_t=ref(t, 'adm_weight'),
                bias_t=ref(t, 'adm_bias'))
        if beta > 0:
            losses[t]['loss_adm_divergence'] = dict(
                type='mmokd.ADMDivergenceLoss', loss_weight=beta, eps=eps,
                ignore_index=ignore_index)
            mappings[t]['loss_adm_divergence'] = dict(
                feat_t=feat_t, feat_s_aligned=aligned,
                weight_t=ref(t, 'adm_weight'), bias_t=ref(t, 'adm_bias'),
                gt=gt)
        losses = {peer: terms for peer, terms in losses.items() if terms}
        mappings = {peer: m for peer, m in mappings.items() if m}
        connectors = {peer: c for peer, c in connectors.items() if c}
        super().__init__(
            recorders=recorders, losses=losses,
            loss_forward_mappings=mappings, connectors=connectors, **kwargs)
