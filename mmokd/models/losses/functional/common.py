"""Shape helpers shared by the online distillation losses."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def resize_like(logits: Tensor, reference: Tensor) -> Tensor:
    """Bilinearly resizes dense logits to the spatial size of ``reference``.

    Args:
        logits (Tensor): ``(N, C, H', W')`` or ``(N, C)`` logits.
        reference (Tensor): Tensor whose trailing spatial size is wanted.

    Returns:
        Tensor: ``logits`` unchanged when sizes match or not dense,
        otherwise resized with ``align_corners=False``.
    """
    if logits.dim() < 3 or logits.shape[2:] == reference.shape[2:]:
        return logits
    return F.interpolate(
        logits, size=reference.shape[2:], mode='bilinear', align_corners=False)


def resize_labels(labels: Tensor, reference: Tensor) -> Tensor:
    """Resizes ``(N, H, W)`` label maps or boolean masks to ``reference``'s
    size.

    Nearest-neighbour sampling, as mmseg does for labels.

    Args:
        labels (Tensor): ``(N, H, W)`` label maps or boolean masks.
        reference (Tensor): ``(N, C, H', W')`` tensor.

    Returns:
        Tensor: ``(N, H', W')``, of ``labels``' type (``labels`` itself
        when the sizes match).
    """
    if labels.shape[-2:] == reference.shape[2:]:
        return labels
    resized = F.interpolate(
        labels[:, None].float(), size=reference.shape[2:], mode='nearest')
    return resized[:, 0].to(labels.dtype)


def class_last(logits: Tensor) -> Tensor:
    """``(N, C)`` or ``(N, C, H, W)`` logits as ``(P, C)`` rows."""
    if logits.dim() == 4:
        return logits.permute(0, 2, 3, 1).flatten(0, 2)
    return logits


def label_rows(target: Tensor, logits: Tensor,
               ignore_index: int) -> Tuple[Tensor, Tensor]:
    """Labels as ``(P,)`` rows matching :func:`class_last` of ``logits``
    and their validity. ``ignore_index`` only applies to dense labels
    (class 255 is a real ImageNet class)."""
    if logits.dim() != 4:
        return target, torch.ones_like(target, dtype=torch.bool)
    target = resize_labels(target, logits).flatten()
    return target, target != ignore_index
