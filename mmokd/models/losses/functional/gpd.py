"""Gap Preserving Distillation's soft cross-entropy from the dynamic
teacher to the student (Guo et al., ICLR 2025, Sec. 3)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from .common import valid_items


def gpd_soft_cross_entropy(logits_s: Tensor,
                           logits_dt: Tensor,
                           label_smoothing: float = 0.1,
                           ignore_index: Optional[int] = 255,
                           target: Optional[Tensor] = None) -> Tensor:
    """GPD's distillation term from the dynamic teacher to the student.

    Guo et al., "Gap Preserving Distillation by Building Bidirectional
    Mappings with A Dynamic Teacher", ICLR 2025 (authors' code, loss type
    ``sce``): cross-entropy of the student's softmax against the detached
    dynamic-teacher probabilities ``p_D`` smoothed towards the uniform
    distribution, without temperature::

        SCE = (1 - eps) * H(p_D, p_S) + eps * mean_c(-log p_S)

    averaged over the items that count (samples of ``(N, C)`` logits,
    pixels of ``(N, C, H, W)`` logits; see :func:`~.common.valid_items`).

    Args:
        logits_s (Tensor): Student logits, ``(N, C)`` or ``(N, C, H, W)``.
        logits_dt (Tensor): Dynamic-teacher logits of the same shape;
            detached here.
        label_smoothing (float): ``eps``. Defaults to 0.1.
        ignore_index (int, optional): Label of items left out; None: every
            item counts. Defaults to 255.
        target (Tensor, optional): Labels, ``(N,)`` or an ``(N, H, W)`` map
            at any resolution; None: every item counts.

    Returns:
        Tensor: Scalar loss; 0 when every item is left out.
    """
    if logits_s.shape != logits_dt.shape:
        raise ValueError('gpd_soft_cross_entropy: student and dynamic-'
                         f'teacher logits differ in shape, {logits_s.shape} '
                         f'vs {logits_dt.shape}.')
    log_p_s = F.log_softmax(logits_s, dim=1)
    p_dt = F.softmax(logits_dt.detach(), dim=1)
    smoothed = (1 - label_smoothing) * p_dt + label_smoothing / p_dt.shape[1]
    per_item = -(smoothed * log_p_s).sum(dim=1)
    valid = valid_items(target, ignore_index, logits_s)
    if valid is None:
        return per_item.mean()
    return (per_item * valid).sum() / valid.sum().clamp(min=1)
