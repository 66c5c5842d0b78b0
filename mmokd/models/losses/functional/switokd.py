"""Switchable Online Knowledge Distillation's switch (Qian et al., ECCV
2022, Sec. 3.2): the per-step statistics and the learning / expert mode
decision."""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .common import class_last, label_rows, resize_like


def _probs_and_onehot(logits: Tensor, target: Tensor,
                      ignore_index: Optional[int]
                      ) -> Tuple[Tensor, Tensor, Tensor]:
    """Softmax probabilities, one-hot labels and a validity mask, with the
    class axis last: ``(M, C)`` for ``M`` samples or pixels; nothing is
    left out when ``ignore_index`` is None (classification)."""
    target, valid = label_rows(target, logits, ignore_index)
    logits = class_last(logits)
    onehot = F.one_hot(target.clamp(0, logits.shape[1] - 1),
                       logits.shape[1]).float()
    return logits.softmax(dim=1), onehot, valid


def switokd_statistics(logits_s: Tensor,
                       logits_t: Tensor,
                       target: Tensor,
                       ignore_index: Optional[int] = 255) -> Tensor:
    """Sums behind SwitOKD's switch, ready to be all-reduced over ranks.

    Qian et al., "Switchable Online Knowledge Distillation", ECCV 2022
    (authors' code): per sample (or labelled pixel), with ``tau = 1`` and
    detached probabilities, the L1 distances ``||p_s - y||``,
    ``||p_t - y||`` and ``||p_s - p_t||``. Dense teacher logits of another
    size are resized bilinearly to the student's.

    Args:
        logits_s (Tensor): Student logits ``(N, C[, H, W])``.
        logits_t (Tensor): Teacher logits, same layout.
        target (Tensor): ``(N,)`` classes or ``(N, H, W)`` label maps.
        ignore_index (int, optional): Label left out; None: none.

    Returns:
        Tensor: ``[sum s, sum t, sum G, count]`` (float64).
    """
    logits_t = resize_like(logits_t.detach(), logits_s)
    p_s, onehot, valid = _probs_and_onehot(logits_s.detach(), target,
                                           ignore_index)
    p_t, _, _ = _probs_and_onehot(logits_t, target, ignore_index)
    dist = [(a - b).abs().sum(dim=1)[valid].double().sum()
            for a, b in ((p_s, onehot), (p_t, onehot), (p_s, p_t))]
    return torch.stack(dist + [valid.sum().double()])


def _switokd_means(stats: Tensor) -> Tuple[float, float, float]:
    """``(s, t, G)``: the batch means behind :func:`switokd_statistics`."""
    count = float(stats[3].clamp(min=1))
    s, t, gap = (float(v) / count for v in stats[:3])
    return s, t, gap


def switokd_decision(
        stats: Tensor,
        require_teacher_better: bool = True,
        epsilon_stats: Optional[Tensor] = None) -> Tuple[bool, float, float]:
    """SwitOKD's switching rule on (all-reduced) statistics.

    ``s, t, G`` are the batch means of the three L1 distances,
    ``epsilon = exp(-t / (s + t))``, ``delta = s - epsilon * t``; expert
    mode (the teacher pauses) iff ``G > delta`` and, as in the authors'
    code, ``t < s`` (``require_teacher_better``).

    Args:
        stats (Tensor): Output of :func:`switokd_statistics`, summed over
            ranks.
        require_teacher_better (bool): Also require ``t < s``.
        epsilon_stats (Tensor, optional): Statistics of the pair whose
            ``s, t`` give ``epsilon``; the authors' three-network code
            reuses the first pair's for the second. Defaults to ``stats``.

    Returns:
        tuple: ``(expert, delta, G)``.
    """
    s, t, gap = _switokd_means(stats)
    s_eps, t_eps, _ = _switokd_means(stats if epsilon_stats is
                                     None else epsilon_stats)
    epsilon = math.exp(-t_eps / (s_eps + t_eps)) if s_eps + t_eps > 0 \
        else 1.0
    delta = s - epsilon * t
    expert = gap > delta and (t < s or not require_teacher_better)
    return expert, delta, gap


def switokd_mode(logits_s: Tensor,
                 logits_t: Tensor,
                 target: Tensor,
                 require_teacher_better: bool = True,
                 ignore_index: Optional[int] = 255
                 ) -> Tuple[bool, float, float]:
    """Whether SwitOKD's expert mode holds for one batch on one process.

    Args:
        logits_s (Tensor): Student logits.
        logits_t (Tensor): Teacher logits.
        target (Tensor): Labels.
        require_teacher_better (bool): See :func:`switokd_decision`.
        ignore_index (int, optional): Label left out; None: none.

    Returns:
        tuple: ``(expert, delta, G)``.
    """
    return switokd_decision(
        switokd_statistics(logits_s, logits_t, target, ignore_index),
        require_teacher_better)
