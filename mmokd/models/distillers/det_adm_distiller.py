"""ADM's terms between two detectors, on their FPN levels."""
from typing import Any, Dict, List, Union

from torch import Tensor, nn

from mmokd.models.losses.functional import det_adm_attention, inside_positions
from mmokd.registry import MODELS
from ..tasks import BaseTask
from ..utils import check_integer, check_nonnegative, check_positive, field_of
from .online_distiller import OnlineDistiller

CONSENSUS, DIVERGENCE = 'adm_det_consensus', 'adm_det_divergence'


@MODELS.register_module()
class DetADMDistiller(OnlineDistiller):
    """Adds ADM's three terms between a teacher and a student detector.

    Chen et al., "Asymmetric Decision-Making in Online Knowledge
    Distillation", ICML 2025, Eq. 10, in a dense form on FPN levels
    (docs/design.md, "Detection"): per level ``l``, ``F^l`` is the neck's
    output, ``S^l`` the per-position cosine of the two networks' maps and
    the consensus / divergence maps are normalised per image over the
    positions inside it (:func:`det_adm_attention`); ``H^l`` is the input
    of each head's classifier conv.

        student:  + alpha * L_cls(cls_s(ReLU(H_s) * A_co))
                  + gamma * (1 / L) * sum_l MSE(phi(F_s^l), F_t^l)
        teacher:  + beta * L_cls(cls_t(ReLU(H_t) * A_di))

    with ``L_cls`` each head's own classification loss and targets
    (:class:`~mmokd.models.losses.DetADMClsLoss`: RetinaNet, GFL, FCOS,
    RPN). ``phi`` (one shared 1x1
    conv, owned by the student) exists only when the channel counts
    differ. Only aligned FPN levels are needed, so heads of other prior
    layouts work (use it with ``type='mmokd.OnlineDistill'``, or merged
    into a DML config's distiller).

    Example (RetinaNet R101 / R18, 256-channel FPNs)::

        model = dict(type='mmokd.OnlineDistill', distiller=dict(
            type='mmokd.DetADMDistiller',
            channels=dict(student=256, teacher=256),
            alpha=0.2, beta=0.6, gamma=0.01))

    Args:
        channels (dict): ``{student: C_s, teacher: C_t}``, the FPNs'
            ``out_channels`` (checked against the networks).
        alpha (float): Consensus weight. Defaults to 0.2.
        beta (float): Divergence weight. Defaults to 0.6.
        gamma (float): Feature weight. Defaults to 0.01.
        neck (str): The FPN module. Defaults to ``'neck'``.
        head (str): The dense head. Defaults to ``'bbox_head'``.
        classifier (str | dict): The classifier conv in the head, one name
            or ``{peer: name}`` (heads of different kinds). Defaults to
            ``'retina_cls'``.
        num_levels (int): FPN levels. Defaults to 5.
        student (str): Student peer. Defaults to ``'student'``.
        teacher (str): Teacher peer. Defaults to ``'teacher'``.
        eps (float): Attention epsilon. Defaults to 1e-5.
        **kwargs: The base method's recorders / losses / mappings /
            connectors (:class:`OnlineDistiller`).
    """

    def __init__(self,
                 channels: Dict[str, int],
                 alpha: float = 0.2,
                 beta: float = 0.6,
                 gamma: float = 0.01,
                 neck: str = 'neck',
                 head: str = 'bbox_head',
                 classifier: Union[str, Dict[str, str]] = 'retina_cls',
                 num_levels: int = 5,
                 student: str = 'student',
                 teacher: str = 'teacher',
                 eps: float = 1e-5,
                 **kwargs) -> None:
        for arg, weight in (('alpha', alpha), ('beta', beta),
                            ('gamma', gamma)):
            check_nonnegative(weight, field_of(self, arg))
        self.eps = check_positive(eps, field_of(self, 'eps'))
        levels = check_integer(num_levels, field_of(self, 'num_levels'), 1)
        self.channels = {
            peer: check_integer((channels or {}).get(peer),
                                f'{field_of(self, "channels")}.{peer}', 1)
            for peer in (student, teacher)
        }
        self.pair = (student, teacher)
        self.neck = neck
        self.head = head
        self.classifiers = {
            peer: classifier if isinstance(classifier, str) else
            classifier[peer]
            for peer in self.pair
        }
        tables = {
            key: {k: dict(v)
                  for k, v in (kwargs.pop(key, None) or {}).items()}
            for key in ('recorders', 'losses', 'loss_forward_mappings',
                        'connectors')
        }
        for peer in self.pair:
            for table in tables.values():
                table.setdefault(peer, {})
            tables['recorders'][peer].update(
                adm_neck=dict(type='ModuleOutputs', source=neck),
                adm_cls_in=dict(
                    type='ModuleInputs',
                    source=f'{head}.{self.classifiers[peer]}'),
                adm_head=dict(type='mmokd.DenseHead', source=head))
        self.adapter = None
        if self.channels[student] != self.channels[teacher]:
            self.adapter = 'adm_phi'
            tables['connectors'][student][self.adapter] = dict(
                type='ConvModuleConnector',
                in_channel=self.channels[student],
                out_channel=self.channels[teacher],
                kernel_size=1,
                act_cfg=None)
        self.student_levels = [
            dict(peer=student, recorder='adm_neck', data_idx=level,
                 connector=self.adapter) for level in range(levels)
        ]
        self.teacher_levels = [
            dict(peer=teacher, recorder='adm_neck', data_idx=level)
            for level in range(levels)
        ]
        for peer, name, weight, data in (
                (student, 'loss_adm_consensus', alpha, CONSENSUS),
                (teacher, 'loss_adm_divergence', beta, DIVERGENCE)):
            tables['losses'][peer][name] = dict(
                type='mmokd.DetADMClsLoss', loss_weight=weight,
                classifier=self.classifiers[peer])
            tables['loss_forward_mappings'][peer][name] = dict(
                feats=[
                    dict(peer=peer, recorder='adm_cls_in', record_idx=level,
                         data_idx=0) for level in range(levels)
                ],
                attention=dict(data=data),
                head=dict(peer=peer, recorder='adm_head'))
        tables['losses'][student]['loss_adm_feature'] = dict(
            type='mmokd.DetADMFeatureLoss', loss_weight=gamma)
        tables['loss_forward_mappings'][student]['loss_adm_feature'] = dict(
            feats_s=self.student_levels,
            feats_t=self.teacher_levels,
            head=dict(peer=student, recorder='adm_head'))
        connectors = {p: c for p, c in tables.pop('connectors').items() if c}
        super().__init__(connectors=connectors, **tables, **kwargs)

    def prepare(self, peers: Dict[str, nn.Module], *, task: BaseTask,
                **kwargs) -> None:
        """Checks the heads and ``channels`` against the networks, then
        :meth:`OnlineDistiller.prepare`.

        Args:
            peers (dict): ``{name: network}``.
            task (BaseTask): The algorithm's task.
            **kwargs: Other arguments of :meth:`OnlineDistiller.prepare`.

        Raises:
            ValueError: A channel count that is not the FPN's, or a head
                without the named classifier conv.
        """
        for peer in self.pair:
            head = dict(peers[peer].named_modules()).get(self.head)
            classifier = self.classifiers[peer]
            if not isinstance(getattr(head, classifier, None),
                              nn.Conv2d) or not isinstance(
                                  getattr(head, 'loss_cls', None), nn.Module):
                raise ValueError(
                    f'{field_of(self, "classifier")}: "{self.head}" of '
                    f'"{peer}" ({type(head).__name__}) has no classifier '
                    f'conv "{classifier}" and loss_cls module; use e.g. '
                    '"retina_cls" (RetinaNet), "gfl_cls" (GFL), "conv_cls" '
                    '(FCOS) or "rpn_cls" with head="rpn_head".')
            neck = dict(peers[peer].named_modules()).get(self.neck)
            actual = getattr(neck, 'out_channels', None)
            if actual != self.channels[peer]:
                raise ValueError(
                    f'{field_of(self, "channels")}.{peer}: '
                    f'{self.channels[peer]}, but the FPN "{self.neck}" of '
                    f'"{peer}" has out_channels={actual}; set it to '
                    f'{actual}.')
        super().prepare(peers, task=task, **kwargs)

    @property
    def derived_data_names(self) -> List[str]:
        """The consensus and divergence maps of every level."""
        return [CONSENSUS, DIVERGENCE]

    def derived_step_data(self, data_samples: List[Any],
                          cache: Dict[Any, Any]) -> Dict[str, List[Tensor]]:
        """Both attention maps of every FPN level, once per step.

        Args:
            data_samples (list): The batch's data samples.
            cache (dict): This step's fetch cache (the adapted student
                maps are computed once and shared with the feature term).

        Returns:
            dict: ``{name: [(N, 1, H, W) per level]}``.
        """
        student = self.fetch(dict(peer=self.pair[0], recorder='adm_head'),
                             data_samples, cache)
        maps = {CONSENSUS: [], DIVERGENCE: []}
        for source_s, source_t, valid in zip(self.student_levels,
                                             self.teacher_levels,
                                             student.valid):
            feat_s = self.fetch(source_s, data_samples, cache)
            feat_t = self.fetch(source_t, data_samples, cache)
            consensus, divergence = det_adm_attention(
                feat_s, feat_t, inside_positions(valid, feat_s.shape),
                self.eps)
            maps[CONSENSUS].append(consensus)
            maps[DIVERGENCE].append(divergence)
        return maps
