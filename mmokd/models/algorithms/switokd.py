"""Switchable Online Knowledge Distillation (Qian et al., ECCV 2022)."""
from typing import Dict, List

import torch
from mmengine.dist import all_reduce
from torch import Tensor

from mmokd.registry import MODELS
from ..distillers import stack_labels
from ..losses.functional import switokd_decision, switokd_statistics
from .dml import DML
from .online_distill import unwrap


@MODELS.register_module()
class SwitOKD(DML):
    """SwitOKD: the teacher pauses while it is far enough ahead.

    Qian et al., "Switchable Online Knowledge
    Distillation", ECCV 2022. Losses are DML's (``tau = 1``, each network
    learns from the other's detached prediction). Per batch, from detached
    probabilities: ``s = mean ||p_s - y||_1``, ``t = mean ||p_t - y||_1``,
    ``G = mean ||p_s - p_t||_1``, ``delta = s - exp(-t / (s + t)) * t``.
    Expert mode when ``G > delta`` and ``t < s`` (authors' code): the
    teacher is not updated (no backward, no optimizer step: its weights and
    optimizer state stay as they are; its BatchNorm statistics still move in
    the forward, as in the authors' code). Otherwise learning mode: both
    update, as in DML. For segmentation the means run over labelled
    pixels. Under distributed training the sums are all-reduced before the
    decision, so every rank takes the same one. ``switokd.expert`` (1 =
    expert) is logged each iteration; the logger's interval mean is the
    expert-mode ratio.

    Example:
        >>> model = dict(type='mmokd.SwitOKD', peers=..., logits='head.fc')

    Args:
        teacher (str): The peer that can pause. Defaults to ``'teacher'``.
        require_teacher_better (bool): Keep the code's ``t < s`` condition.
        **kwargs: Arguments of :class:`DML` (two peers).
    """

    def __init__(self,
                 teacher: str = 'teacher',
                 require_teacher_better: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if len(self.peer_names) != 2 or teacher not in self.peer_names or \
                teacher == self.student_name:
            raise ValueError(
                'model: SwitOKD needs exactly two peers, the student and '
                f'model.teacher="{teacher}"; got {self.peer_names}.')
        self.teacher_name = teacher
        self.require_teacher_better = require_teacher_better

    def _logits(self, peer: str) -> Tensor:
        """This step's recorded logits of ``peer``."""
        recorders = unwrap(self.distiller).recorders[peer]
        return recorders.get_recorder('logits').get_record_data()

    def peers_to_update(self, data_samples: list,
                        log_vars: Dict[str, Tensor]) -> List[str]:
        """Both peers in learning mode, only the student in expert mode."""
        stats = switokd_statistics(
            self._logits(self.student_name), self._logits(self.teacher_name),
            stack_labels(data_samples))
        all_reduce(stats)  # identical decision on every rank
        expert, delta, gap = switokd_decision(stats,
                                              self.require_teacher_better)
        device = stats.device
        log_vars['switokd.expert'] = torch.tensor(float(expert), device=device)
        log_vars['switokd.delta'] = torch.tensor(delta, device=device)
        log_vars['switokd.G'] = torch.tensor(gap, device=device)
        if expert:
            return [self.student_name]
        return list(self.trainable_peers)
