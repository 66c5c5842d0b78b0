"""Deep Mutual Learning's mimicry term (Zhang et al., CVPR 2018, Eq. 2)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from .common import resize_labels, resize_like


def dml_kl(logits_s: Tensor,
           logits_t: Tensor,
           tau: float = 1.0,
           ignore_mask: Optional[Tensor] = None) -> Tensor:
    """The DML mimicry term ``tau^2 * KL(p_t || p_s)``.

    Zhang et al., "Deep Mutual Learning", CVPR 2018, Eq. 2: network ``s``
    learns from its peer ``t``; the peer's probabilities are a detached
    target. KL is summed over classes and averaged over samples
    (classification, ``(N, C)`` logits) or over non-ignored pixels
    (segmentation, ``(N, C, H, W)`` logits). Dense peer logits of another
    spatial size are resized bilinearly to ``logits_s``' size.

    Args:
        logits_s (Tensor): Learner logits, ``(N, C)`` or ``(N, C, H, W)``.
        logits_t (Tensor): Peer logits of the same layout; detached here.
        tau (float): Softmax temperature. Defaults to 1.0.
        ignore_mask (Tensor, optional): ``(N, H, W)`` boolean mask of
            pixels to ignore (e.g. label 255), at any resolution; resized to
            the logits by nearest neighbour. Dense logits only.

    Returns:
        Tensor: Scalar loss; 0 when every pixel is ignored.
    """
    logits_t = resize_like(logits_t.detach(), logits_s)
    if tau != 1:
        logits_s, logits_t = logits_s / tau, logits_t / tau
    log_p_s = F.log_softmax(logits_s, dim=1)
    log_p_t = F.log_softmax(logits_t, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)
    if ignore_mask is None:
        return kl.mean() if tau == 1 else tau**2 * kl.mean()
    if kl.dim() != 3:
        raise ValueError('dml_kl: ignore_mask needs dense (N, C, H, W) '
                         f'logits, got shape {tuple(logits_s.shape)}.')
    valid = ~resize_labels(ignore_mask, logits_s)
    total = (kl * valid).sum()
    return tau**2 * total / valid.sum().clamp(min=1)
