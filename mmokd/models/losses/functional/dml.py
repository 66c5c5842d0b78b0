"""Deep Mutual Learning's mimicry term (Zhang et al., CVPR 2018, Eq. 2)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from .common import resize_like, valid_items


def dml_kl(logits_s: Tensor,
           logits_t: Tensor,
           tau: float = 1.0,
           target: Optional[Tensor] = None,
           ignore_index: Optional[int] = None) -> Tensor:
    """The DML mimicry term ``tau^2 * KL(p_t || p_s)``.

    Zhang et al., "Deep Mutual Learning", CVPR 2018, Eq. 2: network ``s``
    learns from its peer ``t``; the peer's probabilities are a detached
    target. KL is summed over classes and averaged over the items that
    count (samples of ``(N, C)`` logits, pixels of ``(N, C, H, W)``
    logits; see :func:`~.common.valid_items`). Dense peer logits of
    another spatial size are resized bilinearly to ``logits_s``' size.

    Args:
        logits_s (Tensor): Learner logits, ``(N, C)`` or ``(N, C, H, W)``.
        logits_t (Tensor): Peer logits of the same layout; detached here.
        tau (float): Softmax temperature. Defaults to 1.0.
        target (Tensor, optional): Labels, ``(N,)`` or an ``(N, H, W)``
            map at any resolution.
        ignore_index (int, optional): Items labelled so are left out;
            None: every item counts.

    Returns:
        Tensor: Scalar loss; 0 when every item is left out.
    """
    logits_t = resize_like(logits_t.detach(), logits_s)
    if tau != 1:
        logits_s, logits_t = logits_s / tau, logits_t / tau
    log_p_s = F.log_softmax(logits_s, dim=1)
    log_p_t = F.log_softmax(logits_t, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)
    valid = valid_items(target, ignore_index, logits_s)
    if valid is None:
        return kl.mean() if tau == 1 else tau**2 * kl.mean()
    total = (kl * valid).sum()
    return tau**2 * total / valid.sum().clamp(min=1)
