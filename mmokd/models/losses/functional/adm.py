"""Asymmetric Decision-Making's terms (Chen et al., ICML 2025, Eq. 5-10):
the similarity map, the consensus and divergence attentions and losses,
and the staged feature term."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .common import resize_labels, resize_like


def adm_similarity(feat_s: Tensor, feat_t: Tensor) -> Tensor:
    """Cosine similarity over channels of two feature maps, detached.

    ADM (Chen et al., ICML 2025), Eq. 6: ``S_ij = <F^t_ij, F^s_ij> /
    (||F^t_ij|| ||F^s_ij||)``. A student map of another spatial size is
    resized bilinearly to the teacher's. Computed without autograd and in
    float32 whatever the maps' type (under AMP a half-precision norm
    product underflows where ReLU features are all zero); such a position
    gets 0.

    Args:
        feat_s (Tensor): ``(B, C, H_s, W_s)`` student map, already in the
            teacher's channel space (through the adapter if needed).
        feat_t (Tensor): ``(B, C, H, W)`` teacher map.

    Returns:
        Tensor: ``(B, H, W)`` similarity, clamped to ``[-1, 1]`` against
        rounding (so both attention maps are non-negative), float32, no
        gradient.
    """
    with torch.no_grad():
        feat_s = resize_like(feat_s, feat_t).float()
        feat_t = feat_t.float()
        dot = (feat_s * feat_t).sum(dim=1)
        norms = torch.linalg.vector_norm(feat_s, dim=1) * \
            torch.linalg.vector_norm(feat_t, dim=1)
        return (dot / norms.clamp_min(1e-12)).clamp_(-1.0, 1.0)


def adm_attention(feat_s: Tensor,
                  feat_t: Tensor,
                  eps: float = 1e-5) -> Tuple[Tensor, Tensor]:
    """ADM's consensus and divergence attention maps.

    Chen et al., "Asymmetric Decision-Making in Online Knowledge
    Distillation", ICML 2025, Eqs. 7-8: ``(1 + S) / (1 + mean(S))`` for
    the student (more weight where the two networks agree) and
    ``(1 - S) / (1 - mean(S))`` for the teacher (more weight where they
    differ). Normalised per sample over H and W (the appendix pseudo-code
    divides a ``(B, H, W)`` map by a ``(B, 1, 1, 1)`` mean, which
    broadcasts to ``(B, B, H, W)``; this is the intended per-sample form).
    Both maps come from one similarity map and one mean.

    Args:
        feat_s (Tensor): Student map in the teacher's channel space.
        feat_t (Tensor): ``(B, C, H, W)`` teacher map.
        eps (float): Added to the means. Defaults to 1e-5 (appendix A).

    Returns:
        tuple[Tensor, Tensor]: ``(attn_consensus, attn_divergence)``, each
        ``(B, 1, H, W)`` with per-sample spatial mean ~1, no gradient.
    """
    sim = adm_similarity(feat_s, feat_t).unsqueeze(1)
    with torch.no_grad():
        mean = sim.mean(dim=(2, 3), keepdim=True)
        return ((sim + 1) / (mean + (1 + eps)), (1 - sim) / ((1 + eps) - mean))


def attended_logits(feat: Tensor, attn: Tensor, weight: Tensor,
                    bias: Optional[Tensor]) -> Tensor:
    """A network's own classifier on its attention-weighted features.

    Classification (``weight`` ``(K, C)``): ``W(GAP(ReLU(F) * A)) + b``,
    the re-weighted pooling done as one batched product
    ``ReLU(F) @ A / HW``. Segmentation (``weight`` ``(K, C, 1, 1)``, the
    decode head's ``conv_seg``): the same classifier per pixel on
    ``ReLU(F) * A``. An attention map of another size is resized
    bilinearly to ``feat``, and cast to its type; it carries no gradient.

    Args:
        feat (Tensor): ``(B, C, H, W)`` features.
        attn (Tensor): ``(B, 1, H', W')`` attention.
        weight (Tensor): Classifier weight.
        bias (Tensor, optional): Classifier bias.

    Returns:
        Tensor: ``(B, K)`` or ``(B, K, H, W)`` logits.
    """
    if weight.dim() == 4:
        attn = resize_like(attn, feat).detach().to(feat.dtype)
        return F.conv2d(F.relu(feat) * attn, weight, bias)
    with torch.no_grad():
        attn = resize_like(attn, feat)
        pool = attn.flatten(1).unsqueeze(2) / (attn.shape[2] * attn.shape[3])
        pool = pool.to(feat.dtype)
    pooled = torch.bmm(F.relu(feat).flatten(2), pool).squeeze(2)
    return F.linear(pooled, weight, bias)


def dense_cross_entropy(logits: Tensor,
                        target: Tensor,
                        ignore_index: Optional[int] = 255) -> Tensor:
    """Cross-entropy for ``(B, K)`` or ``(B, K, h, w)`` logits.

    The mean over the items that count (samples, or pixels of label maps
    resized to the logits by nearest neighbour); items labelled
    ``ignore_index`` are left out, none when it is None (classification:
    ImageNet's class 255 is a real class).

    Args:
        logits (Tensor): Logits.
        target (Tensor): ``(B,)`` classes or ``(B, H, W)`` label maps.
        ignore_index (int, optional): Label left out. Defaults to 255.

    Returns:
        Tensor: Mean loss over the items that count (0 if none).
    """
    target = resize_labels(target, logits)
    if ignore_index is None:
        return F.cross_entropy(logits, target)
    # A sum over the labelled entries divided on the device: no host sync.
    total = F.cross_entropy(
        logits, target, ignore_index=ignore_index, reduction='sum')
    return total / (target != ignore_index).sum().clamp(min=1)


def adm_attended_cross_entropy(feat: Tensor,
                               attn: Tensor,
                               weight: Tensor,
                               bias: Optional[Tensor],
                               target: Tensor,
                               ignore_index: Optional[int] = 255) -> Tensor:
    """A network's own classifier on its attention-weighted map, against
    the labels: ADM's consensus and divergence learning (ICML 2025).

    * Eq. 7, consensus learning for the student (``adm_consensus_loss``):
      ``CE(W_s(GAP(ReLU(F_s) * (1 + S) / (1 + mean S))), y)``;
    * Eq. 8, divergence learning for the teacher (``adm_divergence_loss``):
      ``CE(W_t(GAP(ReLU(F_t) * (1 - S) / (1 - mean S))), y)``.

    Example::

        attn_co, attn_di = adm_attention(feat_s_aligned, feat_t)
        loss_co = adm_consensus_loss(feat_s, attn_co, fc_s.weight,
                                     fc_s.bias, y)
        loss_di = adm_divergence_loss(feat_t, attn_di, fc_t.weight,
                                      fc_t.bias, y)

    Args:
        feat (Tensor): The network's penultimate map ``F``.
        attn (Tensor): Its map of :func:`adm_attention` (first: consensus,
            second: divergence).
        weight (Tensor): The network's classifier weight.
        bias (Tensor, optional): The network's classifier bias.
        target (Tensor): Labels.
        ignore_index (int, optional): Label left out (None: none).

    Returns:
        Tensor: The loss; gradient reaches only ``feat`` and the network's
        classifier.
    """
    logits = attended_logits(feat, attn, weight, bias)
    return dense_cross_entropy(logits, target, ignore_index)


#: ADM Eq. 7: the student's map with the consensus attention.
adm_consensus_loss = adm_attended_cross_entropy
#: ADM Eq. 8: the teacher's map with the divergence attention.
adm_divergence_loss = adm_attended_cross_entropy


def adm_feature_loss(feats_s_aligned: Sequence[Tensor],
                     feats_t: Sequence[Tensor],
                     scale: float = 1.0) -> Tensor:
    """ADM feature distillation for the student (ICML 2025, Eq. 5, App. A).

    ``sum_i 1/2^(N-i+1) * MSE(phi_i(F^s_i), F^t_i)`` over the ``N`` stages
    given, shallow to deep: the deepest weighs 1/2, the one before 1/4, ...
    (appendix A: ``1/2^(N'-idx)`` over stages ``idx = 1..N'-1`` of an
    ``N'``-stage backbone, stage 0 skipped). Teacher maps are detached;
    adapted student maps of another size are resized to the teacher's.

    Args:
        feats_s_aligned (list[Tensor]): Adapted student maps.
        feats_t (list[Tensor]): Teacher maps, same order.
        scale (float): Multiplies every stage weight (``gamma``).

    Returns:
        Tensor: The weighted sum.
    """
    if len(feats_s_aligned) != len(feats_t):
        raise ValueError('adm_feature_loss: got '
                         f'{len(feats_s_aligned)} student and '
                         f'{len(feats_t)} teacher stages.')
    num = len(feats_t)
    terms = [
        F.mse_loss(resize_like(s, t), t.detach()) * (scale / 2**(num - i + 1))
        for i, (s, t) in enumerate(zip(feats_s_aligned, feats_t), start=1)
    ]
    return sum(terms[1:], terms[0])
