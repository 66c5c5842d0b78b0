"""Shape helpers shared by the online distillation losses.

The ignore convention of every function here and in the per-method
modules: items are left out where ``target == ignore_index``;
``ignore_index=None`` (or no ``target``) means every item counts. The
task adapters (:mod:`mmokd.models.tasks`) give ``ignore_index=None`` for
classification, whose labels are never ignored.
"""
from typing import Optional, Tuple

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
        when the sizes match or the labels are not maps).
    """
    if labels.dim() < 3 or labels.shape[-2:] == reference.shape[2:]:
        return labels
    resized = F.interpolate(
        labels[:, None].float(), size=reference.shape[2:], mode='nearest')
    return resized[:, 0].to(labels.dtype)


def class_last(logits: Tensor) -> Tensor:
    """``(N, C)`` or ``(N, C, H, W)`` logits as ``(P, C)`` rows."""
    if logits.dim() == 4:
        return logits.permute(0, 2, 3, 1).flatten(0, 2)
    return logits


def valid_items(target: Optional[Tensor], ignore_index: Optional[int],
                logits: Tensor) -> Optional[Tensor]:
    """Which items of ``logits`` count, under the module's ignore
    convention.

    Args:
        target (Tensor, optional): ``(N,)`` labels or ``(N, H, W)`` label
            maps at any resolution (resized by nearest neighbour).
        ignore_index (int, optional): The label left out.
        logits (Tensor): ``(N, C)`` or ``(N, C, h, w)`` logits.

    Returns:
        Tensor, optional: ``(N,)`` or ``(N, h, w)`` booleans; None when
        every item counts.
    """
    if target is None or ignore_index is None:
        return None
    return resize_labels(target, logits) != ignore_index


def label_rows(target: Tensor, logits: Tensor,
               ignore_index: Optional[int]) -> Tuple[Tensor, Tensor]:
    """Labels as ``(P,)`` rows matching :func:`class_last` of ``logits``
    and their validity (all True when ``ignore_index`` is None)."""
    target = resize_labels(target, logits).flatten()
    if ignore_index is None:
        return target, torch.ones_like(target, dtype=torch.bool)
    return target, target != ignore_index
