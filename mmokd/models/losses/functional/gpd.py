"""Gap Preserving Distillation's soft cross-entropy from the dynamic
teacher to the student (Guo et al., ICLR 2025, Sec. 3)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from .common import resize_labels


def gpd_soft_cross_entropy(logits_s: Tensor,
                           logits_dt: Tensor,
                           label_smoothing: float = 0.1,
                           ignore_index: int = 255,
                           target: Optional[Tensor] = None) -> Tensor:
    """GPD's distillation term from the dynamic teacher to the student.

    Guo et al., "Gap Preserving Distillation by Building Bidirectional
    Mappings with A Dynamic Teacher", ICLR 2025 (authors' code, loss type
    ``sce``): cross-entropy of the student's softmax against the detached
    dynamic-teacher probabilities ``p_D`` smoothed towards the uniform
    distribution, without temperature::

        SCE = (1 - eps) * H(p_D, p_S) + eps * mean_c(-log p_S)

    averaged over samples (``(N, C)`` logits) or over labelled pixels
    (``(N, C, H, W)`` logits, class axis 1).

    Args:
        logits_s (Tensor): Student logits, ``(N, C)`` or ``(N, C, H, W)``.
        logits_dt (Tensor): Dynamic-teacher logits of the same shape;
            detached here.
        label_smoothing (float): ``eps``. Defaults to 0.1.
        ignore_index (int): Label of pixels left out. Defaults to 255.
        target (Tensor, optional): ``(N, H, W)`` label map (any resolution,
            resized by nearest neighbour) whose ``ignore_index`` pixels are
            left out; dense logits only.

    Returns:
        Tensor: Scalar loss; 0 when every pixel is ignored.
    """
    if logits_s.shape != logits_dt.shape:
        raise ValueError('gpd_soft_cross_entropy: student and dynamic-'
                         f'teacher logits differ in shape, {logits_s.shape} '
                         f'vs {logits_dt.shape}.')
    log_p_s = F.log_softmax(logits_s, dim=1)
    p_dt = F.softmax(logits_dt.detach(), dim=1)
    smoothed = (1 - label_smoothing) * p_dt + label_smoothing / p_dt.shape[1]
    per_item = -(smoothed * log_p_s).sum(dim=1)
    if target is None:
        return per_item.mean()
    if per_item.dim() != 3:
        raise ValueError('gpd_soft_cross_entropy: a label map needs dense '
                         f'(N, C, H, W) logits, got {tuple(logits_s.shape)}.')
    valid = ~resize_labels(target == ignore_index, logits_s)
    return (per_item * valid).sum() / valid.sum().clamp(min=1)
