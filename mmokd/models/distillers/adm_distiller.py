"""Routing of ADM's terms between a teacher and a student."""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.logging import MMLogger
from torch import Tensor, nn

from mmokd.models.losses.functional import adm_attention
from mmokd.registry import MODELS
from ..tasks import BaseTask
from ..utils import (check_flag, check_integer, check_nonnegative,
                     check_positive, field_of)
from ..utils.meta_probe import probe_outputs
from .adm_fused import FusedADMTerms
from .online_distiller import OnlineDistiller

PerPeer = Union[str, Dict[str, str]]


def _per_peer(value: PerPeer, peers: List[str]) -> Dict[str, str]:
    """One module name for every peer, or ``{peer: name}``."""
    if isinstance(value, str):
        return {peer: value for peer in peers}
    return {peer: value[peer] for peer in peers}


#: ``(config field, peer, module name, data_idx, channels)`` of one
#: recorded map whose channel count the config states.
ChannelClaim = Tuple[str, str, str, Optional[int], int]


def _channel_claims(owner: object, channels: Dict[str, int],
                    feature: Dict[str, Any], feature_stages: List[dict],
                    names: List[str], gamma: float) -> List[ChannelClaim]:
    """Validates ``channels`` (and the stages' when ``gamma > 0``) and
    lists what each claims about the peers' recorded maps."""
    groups = [(field_of(owner, 'channels'), channels, feature)]
    if gamma > 0:
        groups += [(f'{field_of(owner, "feature_stages")}[{i}].channels',
                    stage.get('channels') or {}, stage)
                   for i, stage in enumerate(feature_stages)]
    claims = []
    for field, counts, source in groups:
        modules = _per_peer(source['source'], names)
        for peer in names:
            if peer not in counts:
                raise ValueError(
                    f'{field}: no channel count for peer "{peer}"; give '
                    f'one per peer of the pairs {names}.')
            count = check_integer(counts[peer], f'{field}.{peer}', 1)
            claims.append((f'{field}.{peer}', peer, modules[peer],
                           source.get('data_idx'), count))
    return claims


def _attention_name(kind: str, pair_sfx: str) -> str:
    """Step-data name of a pair's ``'consensus'`` / ``'divergence'`` map."""
    return f'adm_{kind}_attention{pair_sfx}'


def _adapter(in_channels: int, out_channels: int) -> dict:
    """ADM's 1x1 adaptation ``phi`` (a plain convolution with bias)."""
    return dict(
        type='ConvModuleConnector',
        in_channel=in_channels,
        out_channel=out_channels,
        kernel_size=1,
        act_cfg=None)


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
    merged into the base config's ``model.distiller`` by inheritance. Each
    pair's similarity and attention maps are computed once per step and
    routed to both of its terms as ``dict(data='adm_consensus_attention')``
    and ``dict(data='adm_divergence_attention')`` (suffixed
    ``_{student}_{teacher}`` with several pairs).

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
        pairs (list[dict], optional): Several ``dict(teacher=..,
            student=..)`` pairs for three or more networks (paper Table 11,
            1T2S / 2T1S: ADM per teacher-student pair); replaces
            ``student`` / ``teacher``. Every term and adapter then carries
            the partner's name, e.g. ``loss_adm_consensus_teacher2``;
            ``channels`` and stage ``channels`` are given per peer.
        eps (float): Attention epsilon. Defaults to 1e-5.
        adapter_probe_weight (float): With ``gamma = 0`` and differing
            channel counts (offline KD + ADM on heterogeneous pairs, paper
            Table 8), nothing trains the adapter the similarity map
            compares through. A weight > 0 fits it as a probe: the feature
            MSE on the *detached* student feature (``loss_adm_probe``),
            which trains the adapter only and leaves the student's
            features alone. The paper does not say how it aligns these
            pairs; this is mmokd's choice. Defaults to 0 (an error then).
        ignore_index (int): Ignored label for segmentation.
        fuse_terms (bool): Compute the attention maps and ADM's terms as
            compiled, fused kernels (``torch.compile``, see
            :mod:`.adm_fused`): the same values and gradients with fewer
            kernel launches; eager mode, with a warning, where compiling
            is unavailable. Off by default: slower on the CPU, not yet
            measured on a GPU (``docs/benchmarks.md``). Defaults to
            False.
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
                 pairs: Optional[List[Dict[str, str]]] = None,
                 eps: float = 1e-5,
                 ignore_index: int = 255,
                 adapter_probe_weight: float = 0.0,
                 fuse_terms: bool = False,
                 **kwargs) -> None:
        pairs = pairs or [dict(teacher=teacher, student=student)]
        names = list(
            dict.fromkeys(
                name for pair in pairs
                for name in (pair['student'], pair['teacher'])))
        for arg, weight in (('alpha', alpha), ('beta', beta), ('gamma', gamma),
                            ('adapter_probe_weight', adapter_probe_weight)):
            check_nonnegative(weight, field_of(self, arg))
        check_positive(eps, field_of(self, 'eps'))
        check_integer(ignore_index, field_of(self, 'ignore_index'))
        claims = _channel_claims(self, channels, feature, feature_stages or [],
                                 names, gamma)
        recorders = copy.deepcopy(dict(kwargs.pop('recorders', None) or {}))
        losses = copy.deepcopy(dict(kwargs.pop('losses', None) or {}))
        mappings = copy.deepcopy(
            dict(kwargs.pop('loss_forward_mappings', None) or {}))
        connectors = copy.deepcopy(dict(kwargs.pop('connectors', None) or {}))
        for peer in names:
            for table in (recorders, losses, mappings, connectors):
                table.setdefault(peer, {})

        def ref(peer: str, name: str, data_idx=None, connector=None):
            out = dict(peer=peer, recorder=name)
            if data_idx is not None:
                out['data_idx'] = data_idx
            if connector is not None:
                out['connector'] = connector
            return out

        feat_src = _per_peer(feature['source'], names)
        feat_idx = feature.get('data_idx')
        cls_src = _per_peer(classifier, names)
        stages = [(stage, _per_peer(stage['source'], names))
                  for stage in feature_stages or []]
        for peer in names:
            recorders[peer]['adm_feat'] = dict(
                type='ModuleOutputs', source=feat_src[peer])
            recorders[peer]['adm_weight'] = dict(
                type='Parameter', source=cls_src[peer] + '.weight')
            recorders[peer]['adm_bias'] = dict(
                type='Parameter', source=cls_src[peer] + '.bias')
            for i, (_, src) in enumerate(stages):
                recorders[peer][f'adm_stage{i}'] = dict(
                    type='ModuleOutputs', source=src[peer])

        gt = dict(data='gt')
        attention_inputs: Dict[str, Tuple[dict, dict]] = {}
        for pair in pairs:
            s, t = pair['student'], pair['teacher']
            s_sfx = f'_{t}' if len(pairs) > 1 else ''
            t_sfx = f'_{s}' if len(pairs) > 1 else ''
            pair_sfx = f'_{s}_{t}' if len(pairs) > 1 else ''
            probe = gamma == 0 and channels[s] != channels[t]
            if probe and adapter_probe_weight <= 0:
                raise ValueError(
                    'model.distiller.gamma: the similarity map compares '
                    'the student through the 1x1 adapter when channel '
                    f'counts differ ({channels[s]} vs {channels[t]}), and '
                    'with gamma = 0 nothing trains it; set gamma > 0 or '
                    'model.distiller.adapter_probe_weight > 0.')
            adapter = f'adm_adapter{s_sfx}'
            feat_s = ref(s, 'adm_feat', feat_idx)
            feat_t = ref(t, 'adm_feat', feat_idx)
            aligned = ref(s, 'adm_feat', feat_idx, adapter) \
                if channels[s] != channels[t] else feat_s
            if probe:
                aligned['detach'] = True
                connectors[s][adapter] = _adapter(channels[s], channels[t])
                losses[s][f'loss_adm_probe{s_sfx}'] = dict(
                    type='mmokd.ADMFeatureLoss',
                    loss_weight=adapter_probe_weight)
                mappings[s][f'loss_adm_probe{s_sfx}'] = dict(
                    feats_s_aligned=[aligned], feats_t=[feat_t])
            if gamma > 0:
                connectors[s][adapter] = _adapter(channels[s], channels[t])
                stages_s, stages_t = [], []
                for i, (stage, _) in enumerate(stages):
                    conn = f'adm_adapter{i}{s_sfx}'
                    connectors[s][conn] = _adapter(stage['channels'][s],
                                                   stage['channels'][t])
                    idx = stage.get('data_idx')
                    stages_s.append(ref(s, f'adm_stage{i}', idx, conn))
                    stages_t.append(ref(t, f'adm_stage{i}', idx))
                # F itself is always the deepest stage: this trains the
                # adapter that the similarity map compares through.
                stages_s.append(ref(s, 'adm_feat', feat_idx, adapter))
                stages_t.append(feat_t)
                losses[s][f'loss_adm_feat{s_sfx}'] = dict(
                    type='mmokd.ADMFeatureLoss', loss_weight=gamma)
                mappings[s][f'loss_adm_feat{s_sfx}'] = dict(
                    feats_s_aligned=stages_s, feats_t=stages_t)
            if alpha > 0 or beta > 0:
                attention_inputs[pair_sfx] = (aligned, feat_t)
            if alpha > 0:
                losses[s][f'loss_adm_consensus{s_sfx}'] = dict(
                    type='mmokd.ADMConsensusLoss',
                    loss_weight=alpha,
                    form=consensus_form,
                    ignore_index=ignore_index)
                mappings[s][f'loss_adm_consensus{s_sfx}'] = dict(
                    feat_s=feat_s,
                    attn=dict(data=_attention_name('consensus', pair_sfx)),
                    gt=gt,
                    weight_s=ref(s, 'adm_weight'),
                    bias_s=ref(s, 'adm_bias'))
                if consensus_form == 'kd':
                    mappings[s][f'loss_adm_consensus{s_sfx}'].update(
                        feat_t=feat_t,
                        weight_t=ref(t, 'adm_weight'),
                        bias_t=ref(t, 'adm_bias'))
            if beta > 0:
                losses[t][f'loss_adm_divergence{t_sfx}'] = dict(
                    type='mmokd.ADMDivergenceLoss',
                    loss_weight=beta,
                    ignore_index=ignore_index)
                mappings[t][f'loss_adm_divergence{t_sfx}'] = dict(
                    feat_t=feat_t,
                    attn=dict(data=_attention_name('divergence', pair_sfx)),
                    weight_t=ref(t, 'adm_weight'),
                    bias_t=ref(t, 'adm_bias'),
                    gt=gt)
        losses = {peer: terms for peer, terms in losses.items() if terms}
        mappings = {peer: m for peer, m in mappings.items() if m}
        connectors = {peer: c for peer, c in connectors.items() if c}
        super().__init__(
            recorders=recorders,
            losses=losses,
            loss_forward_mappings=mappings,
            connectors=connectors,
            **kwargs)
        self.eps = eps
        # {pair suffix: (adapted student map, teacher map) sources}.
        self.attention_inputs = attention_inputs
        self.channel_claims = claims
        field = field_of(self, 'fuse_terms')
        #: The compiled terms, or None in eager mode.
        self.fused_terms = FusedADMTerms(field) if check_flag(
            fuse_terms, field) else None

    def prepare(self,
                peers: Dict[str, nn.Module],
                *,
                task: BaseTask,
                step_data_names: Sequence[str] = ()) -> None:
        """Checks the routing as :class:`OnlineDistiller` does, and the
        configured channel counts against the peers' recorded maps.

        The maps' shapes come from a forward on meta tensors
        (:func:`probe_outputs`: no arithmetic, no memory). A network that
        cannot run on meta tensors is not checked (a warning says so).

        Args:
            peers (dict): ``{name: network}`` of the algorithm.
            task (BaseTask): See :class:`OnlineDistiller`.
            step_data_names (list[str]): See :class:`OnlineDistiller`.

        Raises:
            ValueError: A channel count that differs from the network's,
                naming the field (``model.distiller.channels.student``).
        """
        super().prepare(peers, task=task, step_data_names=step_data_names)
        for peer in dict.fromkeys(claim[1] for claim in self.channel_claims):
            claims = [c for c in self.channel_claims if c[1] == peer]
            try:
                outputs = probe_outputs(peers[peer], [c[2] for c in claims])
            except Exception as error:  # any op may lack a meta kernel
                MMLogger.get_current_instance().warning(
                    f'ADMDistiller: the channel counts of peer "{peer}" '
                    f'were not checked at build ({type(error).__name__}: '
                    f'{error}); a wrong count fails at the first step.')
                continue
            unreached = [c[2] for c in claims if c[2] not in outputs]
            if unreached:
                MMLogger.get_current_instance().warning(
                    f'ADMDistiller: {unreached} of peer "{peer}" gave no '
                    'output in a tensor-mode forward; their channel counts '
                    'were not checked at build.')
            for field, _, module, data_idx, count in claims:
                if module not in outputs:
                    continue
                output = outputs[module]
                if data_idx is not None:
                    output = output[data_idx]
                actual = output.shape[1]
                if actual != count:
                    raise ValueError(
                        f'{field}: {count} given, but the output of '
                        f'"{module}" in peer "{peer}" has {actual} channels; '
                        f'set it to {actual}.')

    @property
    def derived_data_names(self) -> List[str]:
        """Every pair's ``adm_{consensus,divergence}_attention`` names."""
        return [
            _attention_name(kind, sfx) for sfx in self.attention_inputs
            for kind in ('consensus', 'divergence')
        ]

    def derived_step_data(self, data_samples: List[Any],
                          cache: Dict[Any, Any]) -> Dict[str, Tensor]:
        """Each pair's two attention maps, from one similarity map.

        Args:
            data_samples (list): The batch's data samples.
            cache (dict): This step's fetch cache; the adapted student map
                is computed once and shared with the feature term.

        Returns:
            dict: ``{adm_consensus_attention[_s_t]: (B, 1, H, W),
            adm_divergence_attention[_s_t]: (B, 1, H, W)}``.
        """
        maps = {}
        attention = self.fused_terms.attention if self.fused_terms \
            else adm_attention
        for sfx, (aligned, feat_t) in self.attention_inputs.items():
            consensus, divergence = attention(
                self.fetch(aligned, data_samples, cache),
                self.fetch(feat_t, data_samples, cache), self.eps)
            maps[_attention_name('consensus', sfx)] = consensus
            maps[_attention_name('divergence', sfx)] = divergence
        return maps

    def forward(
        self,
        data_samples: List[Any],
        step_data: Optional[Dict[str, Tensor]] = None
    ) -> Dict[str, Dict[str, Tensor]]:
        """Every term, as :class:`OnlineDistiller` computes them; with
        ``fuse_terms``, ADM's through their compiled ``forward``.

        Args:
            data_samples (list): The batch's data samples.
            step_data (dict, optional): The algorithm's per-step tensors.

        Returns:
            dict: ``{owner peer: {loss name: weighted loss}}``.
        """
        if self.fused_terms is None:
            return super().forward(data_samples, step_data)
        with self.fused_terms.installed(self.losses,
                                        self.loss_forward_mappings):
            return super().forward(data_samples, step_data)
