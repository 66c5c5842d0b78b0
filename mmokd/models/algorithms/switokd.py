"""Switchable Online Knowledge Distillation (Qian et al., ECCV 2022)."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce
from torch import Tensor

from mmokd.registry import MODELS
from ..losses.functional import (det_rows, det_switokd_statistics,
                                 switokd_decision, switokd_statistics)
from ..tasks import DetTask
from ..utils import LossDict, check_flag, is_loss_term, unwrap
from .dml import DML, LOGITS, dml_term

EPSILON_SOURCES = ('own', 'first_pair')


@MODELS.register_module()
class SwitOKD(DML):
    """SwitOKD: a teacher pauses while it is far enough ahead.

    Qian et al., "Switchable Online Knowledge Distillation", ECCV 2022.
    Losses are DML's (``tau = 1``, each network learns from the others'
    detached predictions). Per batch and teacher-student pair, from
    detached probabilities: ``s = mean ||p_s - y||_1``,
    ``t = mean ||p_t - y||_1``, ``G = mean ||p_s - p_t||_1``,
    ``delta = s - exp(-t / (s + t)) * t``. The pair is in expert mode when
    ``G > delta`` and ``t < s`` (authors' code), otherwise in learning mode.
    For segmentation the means run over labelled pixels; for detection
    over the priors the student's head assigned (its labels, weight > 0).
    Under distributed training the sums are all-reduced before deciding,
    so every rank takes the same decisions.

    A teacher whose pairs are all in expert mode is paused: no backward and
    no optimizer step (weights and optimizer state stay as they are; its
    BatchNorm statistics still move in the forward, as in the code). With
    ``strict_pause=False`` it instead steps with every term weighted 0, so
    momentum and weight decay still move it, as the authors' 1T2S code
    does. A teacher with several students (1T2S) drops the mimicry term of
    each student whose pair is in expert mode and keeps learning from the
    rest; students always learn from every network (2T1S: from both
    teachers). Other terms (e.g. ADM's) follow the teacher's pause only.

    ``switokd.expert`` (1 = expert), ``switokd.delta`` and ``switokd.G``
    are logged each iteration, suffixed ``.{teacher}_{student}`` with
    several pairs; the logger's interval mean of ``expert`` is the
    expert-mode ratio.

    Example (1T2S, SwitOKD Table 7)::

        model = dict(
            type='mmokd.SwitOKD', peers=dict(student=..., assistant=...,
                                             teacher=...),
            logits='head.fc',
            dml_loss=dict(type='mmokd.DMLLoss', peer_reduction='sum'),
            pairs=[dict(teacher='teacher', student='student'),
                   dict(teacher='teacher', student='assistant')],
            epsilon_source='first_pair', strict_pause=False)

    Args:
        teacher (str): With two peers and no ``pairs``, the peer that can
            pause. Defaults to ``'teacher'``.
        pairs (list[dict], optional): ``dict(teacher=, student=)`` pairs,
            each with its own switch (three-network 1T2S / 2T1S settings).
            Defaults to the single pair (``teacher``, the student).
        require_teacher_better (bool): Keep the code's ``t < s`` condition.
        epsilon_source (str): ``'own'``: each pair's ``epsilon`` from its
            own ``s, t`` (the paper's formula); ``'first_pair'``: every pair
            uses the first pair's, as the authors' three-network code does.
        strict_pause (bool): See above. Defaults to True (the two-network
            and 2T1S code).
        **kwargs: Arguments of :class:`DML`.
    """

    #: Detection: the switch reads the student head's own targets.
    uses_head_targets = True

    def __init__(self,
                 teacher: str = 'teacher',
                 pairs: Optional[Sequence[dict]] = None,
                 require_teacher_better: bool = True,
                 epsilon_source: str = 'own',
                 strict_pause: bool = True,
                 **kwargs) -> None:
        peer_names = list(kwargs.get('peers', {}))
        student = kwargs.get('student', 'student')
        if pairs is None:
            if len(peer_names) != 2 or teacher not in peer_names or \
                    teacher == student:
                raise ValueError(
                    'model: SwitOKD without model.pairs needs exactly two '
                    f'peers, the student and model.teacher="{teacher}"; '
                    f'got {peer_names}.')
            pairs = [dict(teacher=teacher, student=student)]
        self._check_pairs(pairs, peer_names)
        check_flag(require_teacher_better, 'model.require_teacher_better')
        check_flag(strict_pause, 'model.strict_pause')
        if epsilon_source not in EPSILON_SOURCES:
            raise ValueError(f'model.epsilon_source must be one of '
                             f'{EPSILON_SOURCES}, got "{epsilon_source}".')
        teachers = list(dict.fromkeys(p['teacher'] for p in pairs))
        super().__init__(per_source_terms=teachers, **kwargs)
        self.pairs = [(p['teacher'], p['student']) for p in pairs]
        self.teachers = teachers
        self.require_teacher_better = require_teacher_better
        self.epsilon_source = epsilon_source
        self.strict_pause = strict_pause
        self._paused: List[str] = []

    def _ignored_label(self, student: str, teacher: str) -> Optional[int]:
        """The label the teacher's mimicry term of the pair leaves out,
        which the switch's statistics leave out too."""
        term = unwrap(self.distiller).losses[teacher][dml_term(
            student, self.dml_stage)]
        return term.ignored_label()

    @staticmethod
    def _check_pairs(pairs: Sequence[dict], peer_names: List[str]) -> None:
        """Raises unless every pair names two different peers."""
        seen = set()
        for i, pair in enumerate(pairs):
            names = (pair.get('teacher'), pair.get('student'))
            if set(pair) != {'teacher', 'student'} or \
                    not set(names) <= set(peer_names) or \
                    names[0] == names[1] or names in seen:
                raise ValueError(
                    f'model.pairs[{i}]: {pair} must be dict(teacher=, '
                    f'student=) naming two different peers of {peer_names}, '
                    'each pair once.')
            seen.add(names)
        if not pairs:
            raise ValueError('model.pairs: give at least one pair.')

    def decide(self, data_samples: list) -> List[tuple]:
        """Every pair's ``(expert, delta, G)``, identical on all ranks.

        Args:
            data_samples (list): The batch's data samples.

        Returns:
            list[tuple]: One decision per pair, in ``pairs`` order.
        """
        target = self.task.labels(data_samples)
        stats = torch.stack([
            self._pair_statistics(student, teacher, target)
            for teacher, student in self.pairs
        ])
        all_reduce(stats)  # identical decisions on every rank
        first = stats[0] if self.epsilon_source == 'first_pair' else None
        return [
            switokd_decision(pair_stats, self.require_teacher_better, first)
            for pair_stats in stats
        ]

    def _pair_statistics(self, student: str, teacher: str,
                         target: Tensor) -> Tensor:
        """One pair's switch sums (``[s, t, G, count]``) of this step.

        Detection: over the priors inside the image that the student's
        head assigned with a positive weight, its own labels as ``y``
        (:func:`det_switokd_statistics`).
        """
        logits_s = self.record_logits(student, LOGITS)
        logits_t = self.record_logits(teacher, LOGITS)
        if isinstance(self.task, DetTask):
            labels, valid = logits_s.target_rows()
            return det_switokd_statistics(
                det_rows(logits_s.cls_scores, logits_s.num_logits),
                det_rows(logits_t.cls_scores, logits_t.num_logits), labels,
                valid, logits_s.activation)
        return switokd_statistics(logits_s, logits_t, target,
                                  self._ignored_label(student, teacher))

    def reweight_losses(self, losses: Dict[str, LossDict],
                        data_samples: list,
                        log_vars: Dict[str, Tensor]) -> None:
        """Decides every pair's mode; zeroes the mimicry terms of a teacher
        whose pair is in expert mode (all its terms when all its pairs
        are and ``strict_pause`` is off), and pauses it when all its pairs
        are and ``strict_pause`` is on (:meth:`peers_to_update`)."""
        decisions = self.decide(data_samples)
        record = self.record(self.student_name, LOGITS)
        device = record.cls_scores[0].device if isinstance(
            self.task, DetTask) else record.device
        for (teacher, student), (expert, delta,
                                 gap) in zip(self.pairs, decisions):
            suffix = '' if len(self.pairs) == 1 else f'.{teacher}_{student}'
            for key, value in (('expert', float(expert)), ('delta', delta),
                               ('G', gap)):
                log_vars[f'switokd.{key}{suffix}'] = torch.tensor(
                    value, device=device)
        self._paused = []
        for teacher in self.teachers:
            experts = [
                student
                for (t, student), (expert, _, _) in zip(self.pairs, decisions)
                if t == teacher and expert
            ]
            own_pairs = [s for t, s in self.pairs if t == teacher]
            if len(experts) == len(own_pairs):
                if self.strict_pause:
                    self._paused.append(teacher)
                    continue
                silenced = [k for k in losses[teacher] if is_loss_term(k)]
            else:
                silenced = [
                    dml_term(student, self.dml_stage) for student in experts
                ]
            for term in silenced:
                value = losses[teacher][term]
                losses[teacher][term] = [v * 0 for v in value] if \
                    isinstance(value, list) else value * 0

    def peers_to_update(self) -> List[str]:
        """Every trained peer but the teachers paused in this step."""
        return [
            name for name in self.trainable_peers if name not in self._paused
        ]
