"""Pure-function forms of the online distillation losses.

Registered loss modules in this package wrap these functions; tests compare
them with values computed independently.
"""
import math
from typing import Optional, Sequence, Tuple

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


def _label_rows(target: Tensor, logits: Tensor,
                ignore_index: int) -> Tuple[Tensor, Tensor]:
    """Labels as ``(P,)`` rows matching :func:`_class_last` of ``logits``
    and their validity. ``ignore_index`` only applies to dense labels
    (class 255 is a real ImageNet class)."""
    if logits.dim() != 4:
        return target, torch.ones_like(target, dtype=torch.bool)
    target = resize_labels(target, logits).flatten()
    return target, target != ignore_index


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
                        ignore_index: int = 255) -> Tensor:
    """Cross-entropy for ``(B, K)`` or ``(B, K, h, w)`` logits.

    Classification: the mean over the batch (every class index is a
    label; ImageNet's class 255 is not ignored). Dense labels at another
    resolution are resized to the logits by nearest neighbour;
    ``ignore_index`` pixels are left out.

    Args:
        logits (Tensor): Logits.
        target (Tensor): ``(B,)`` classes or ``(B, H, W)`` label maps.
        ignore_index (int): Ignored label of dense maps. Defaults to 255.

    Returns:
        Tensor: Mean loss over the samples / labelled pixels (0 if none).
    """
    if logits.dim() == 2:
        return F.cross_entropy(logits, target)
    target = resize_labels(target, logits)
    # A sum over the labelled entries divided on the device: no host sync.
    total = F.cross_entropy(
        logits, target, ignore_index=ignore_index, reduction='sum')
    return total / (target != ignore_index).sum().clamp(min=1)


def adm_consensus_loss(feat_s: Tensor,
                       attn_consensus: Tensor,
                       weight_s: Tensor,
                       bias_s: Optional[Tensor],
                       target: Tensor,
                       ignore_index: int = 255) -> Tensor:
    """ADM consensus learning for the student (ICML 2025, Eq. 7).

    ``CE(W_s(GAP(ReLU(F_s) * (1 + S) / (1 + mean S))), y)``.

    Example::

        attn_co, attn_di = adm_attention(feat_s_aligned, feat_t)
        loss = adm_consensus_loss(feat_s, attn_co, fc.weight, fc.bias, y)

    Args:
        feat_s (Tensor): Student's penultimate map ``F_s``.
        attn_consensus (Tensor): The first map of :func:`adm_attention`.
        weight_s (Tensor): Student classifier weight.
        bias_s (Tensor, optional): Student classifier bias.
        target (Tensor): Labels.
        ignore_index (int): Ignored label (segmentation).

    Returns:
        Tensor: The loss; gradient reaches only ``feat_s`` and the student
        classifier.
    """
    logits = attended_logits(feat_s, attn_consensus, weight_s, bias_s)
    return dense_cross_entropy(logits, target, ignore_index)


def adm_divergence_loss(feat_t: Tensor,
                        attn_divergence: Tensor,
                        weight_t: Tensor,
                        bias_t: Optional[Tensor],
                        target: Tensor,
                        ignore_index: int = 255) -> Tensor:
    """ADM divergence learning for the teacher (ICML 2025, Eq. 8).

    ``CE(W_t(GAP(ReLU(F_t) * (1 - S) / (1 - mean S))), y)``.

    Args:
        feat_t (Tensor): Teacher's penultimate map ``F_t``.
        attn_divergence (Tensor): The second map of :func:`adm_attention`.
        weight_t (Tensor): Teacher classifier weight.
        bias_t (Tensor, optional): Teacher classifier bias.
        target (Tensor): Labels.
        ignore_index (int): Ignored label (segmentation).

    Returns:
        Tensor: The loss; gradient reaches only ``feat_t`` and the teacher
        classifier.
    """
    logits = attended_logits(feat_t, attn_divergence, weight_t, bias_t)
    return dense_cross_entropy(logits, target, ignore_index)


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


def _probs_and_onehot(logits: Tensor, target: Tensor,
                      ignore_index: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Softmax probabilities, one-hot labels and a validity mask, with the
    class axis last: ``(M, C)`` for ``M`` samples or pixels. Only dense
    labels are ever ignored (class 255 is a real ImageNet class)."""
    target, valid = _label_rows(target, logits, ignore_index)
    logits = _class_last(logits)
    onehot = F.one_hot(target.clamp(0, logits.shape[1] - 1),
                       logits.shape[1]).float()
    return logits.softmax(dim=1), onehot, valid


def switokd_statistics(logits_s: Tensor,
                       logits_t: Tensor,
                       target: Tensor,
                       ignore_index: int = 255) -> Tensor:
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
        ignore_index (int): Ignored label (segmentation).

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
                 ignore_index: int = 255) -> Tuple[bool, float, float]:
    """Whether SwitOKD's expert mode holds for one batch on one process.

    Args:
        logits_s (Tensor): Student logits.
        logits_t (Tensor): Teacher logits.
        target (Tensor): Labels.
        require_teacher_better (bool): See :func:`switokd_decision`.
        ignore_index (int): Ignored label (segmentation).

    Returns:
        tuple: ``(expert, delta, G)``.
    """
    return switokd_decision(
        switokd_statistics(logits_s, logits_t, target, ignore_index),
        require_teacher_better)


KDCL_STRATEGIES = ('naive', 'linear', 'minlogit', 'general', 'mean')


def _class_last(logits: Tensor) -> Tensor:
    """``(N, C)`` or ``(N, C, H, W)`` logits as ``(P, C)`` rows."""
    if logits.dim() == 4:
        return logits.permute(0, 2, 3, 1).flatten(0, 2)
    return logits


def _kdcl_rows(logits_list: Sequence[Tensor], target: Tensor,
               ignore_index: int) -> Tuple[Tensor, Tensor, Tensor]:
    """Detached logits of every network as ``(M, P, C)`` rows (resized to
    the first network's size), the ``(P,)`` labels and their validity.

    ``ignore_index`` only applies to dense (segmentation) labels: class
    255 is a real ImageNet class.
    """
    first = logits_list[0].detach()
    stacked = torch.stack(
        [_class_last(resize_like(z.detach(), first)) for z in logits_list])
    target, valid = _label_rows(target, first, ignore_index)
    target = torch.where(valid, target, torch.zeros_like(target))
    return stacked, target.long(), valid


def _simplex_projection(values: Tensor) -> Tensor:
    """Euclidean projection of a vector onto the probability simplex
    (sort-based algorithm of Duchi et al., ICML 2008)."""
    ordered, _ = values.sort(descending=True)
    cumulative = ordered.cumsum(0) - 1
    ranks = torch.arange(
        1, len(values) + 1, dtype=values.dtype, device=values.device)
    support = (ordered - cumulative / ranks > 0).nonzero().max()
    theta = cumulative[support] / (support + 1)
    return (values - theta).clamp(min=0)


def kdcl_linear_weights(logits: Tensor,
                        target: Tensor,
                        max_steps: int = 100,
                        tol: float = 1e-7) -> Tensor:
    """KDCL-Linear: ``alpha = argmin CE(sum_i alpha_i z_i, y)`` on the
    simplex (``alpha >= 0``, ``sum alpha = 1``).

    The objective is convex in ``alpha``. Projected gradient descent with
    backtracking (float64, analytic gradient ``mean_n (p_n - y_n) . z_in``)
    starts from the best single network, so the result is never worse than
    any single network (KDCL invariant K3).

    Args:
        logits (Tensor): ``(M, P, C)`` detached rows of the M networks.
        target (Tensor): ``(P,)`` labels.
        max_steps (int): Gradient steps. Defaults to 100.
        tol (float): Stop when an accepted step moves ``alpha`` less.

    Returns:
        Tensor: ``(M,)`` float64 weights on the simplex.
    """
    logits = logits.double()
    num = logits.shape[0]
    onehot = F.one_hot(target, logits.shape[-1]).double()

    def objective(alpha: Tensor) -> Tensor:
        mixed = torch.einsum('m,mpc->pc', alpha, logits)
        return F.cross_entropy(mixed, target)

    vertex_ce = torch.stack([F.cross_entropy(z, target) for z in logits])
    alpha = F.one_hot(vertex_ce.argmin(), num).double()
    value = vertex_ce.min()
    step = 1.0
    for _ in range(max_steps):
        mixed = torch.einsum('m,mpc->pc', alpha, logits)
        residual = mixed.softmax(dim=1) - onehot
        grad = torch.einsum('pc,mpc->m', residual, logits) / len(target)
        while step > 1e-10:
            candidate = _simplex_projection(alpha - step * grad)
            move = candidate - alpha
            new_value = objective(candidate)
            # Armijo condition of projected gradient descent.
            if new_value <= value + grad @ move + move @ move / (2 * step):
                break
            step /= 2
        else:
            break
        converged = move.norm() < tol
        if new_value <= value:
            alpha, value = candidate, new_value
        if converged:
            break
        step *= 2
    return alpha


def kdcl_ensemble(logits_list: Sequence[Tensor],
                  target: Tensor,
                  strategy: str = 'minlogit',
                  ignore_index: int = 255,
                  weights: Optional[Tensor] = None) -> Tensor:
    """KDCL's ensemble teacher ``z_t`` from the networks' logits, detached.

    Guo et al., "Online Knowledge Distillation via Collaborative Learning",
    CVPR 2020, Sec. 3. With ``z_i`` the logits of network ``i`` and ``y``
    the label:

    - ``'naive'``: per sample (per pixel) the logits of the network with
      the lowest cross-entropy (first one on ties);
    - ``'linear'``: ``sum_i alpha_i z_i``, ``alpha`` on the simplex
      minimising the batch cross-entropy (:func:`kdcl_linear_weights`);
    - ``'minlogit'``: ``min_i (z_i - z_i[y])`` element-wise, so the true
      class is exactly 0;
    - ``'general'``: ``sum_i w_i z_i`` with given ``weights`` (from
      :func:`kdcl_general_weights` on a held-out split);
    - ``'mean'``: ``mean_i z_i`` (not in the paper).

    Segmentation logits of another size are resized bilinearly to the
    first network's size and labels by nearest neighbour. Pixels labelled
    ``ignore_index`` get the mean of the networks' logits under the
    label-dependent strategies (``'naive'``, ``'minlogit'``); they carry no
    loss anyway. ``'linear'`` fits ``alpha`` on labelled pixels only and
    applies it everywhere (uniform ``alpha`` if none is labelled).
    ``ignore_index`` is not used for ``(N,)`` classification labels.

    Args:
        logits_list (list[Tensor]): M >= 1 logits ``(N, C)`` or
            ``(N, C, H, W)``.
        target (Tensor): ``(N,)`` classes or ``(N, H, W)`` label maps.
        strategy (str): One of ``KDCL_STRATEGIES``.
        ignore_index (int): Ignored label of dense targets.
        weights (Tensor, optional): ``(M,)`` weights, ``'general'`` only.

    Returns:
        Tensor: ``z_t`` shaped like ``logits_list[0]``, no gradient.
    """
    if strategy not in KDCL_STRATEGIES:
        raise ValueError(f'kdcl_ensemble: strategy must be one of '
                         f'{KDCL_STRATEGIES}, got "{strategy}".')
    if (weights is None) != (strategy != 'general'):
        raise ValueError('kdcl_ensemble: weights are required by, and only '
                         'by, the "general" strategy.')
    first = logits_list[0]
    rows, labels, valid = _kdcl_rows(logits_list, target, ignore_index)
    num = len(logits_list)
    if strategy in ('mean', 'general', 'linear'):
        if strategy == 'mean':
            alpha = rows.new_full((num, ), 1.0 / num)
        elif strategy == 'general':
            alpha = weights.to(rows)
        elif valid.any():
            alpha = kdcl_linear_weights(rows[:, valid], labels[valid])
        else:
            alpha = torch.full((num, ), 1.0 / num, dtype=torch.float64)
        ensemble = torch.einsum('m,mpc->pc', alpha.to(rows), rows)
    else:
        true_logit = rows.gather(2, labels[None, :, None].expand(num, -1, 1))
        if strategy == 'minlogit':
            ensemble = (rows - true_logit).min(dim=0).values
        else:
            ce = torch.logsumexp(rows, dim=2) - true_logit[..., 0]
            best = ce.argmin(dim=0)
            ensemble = rows[best,
                            torch.arange(rows.shape[1], device=rows.device)]
        ensemble = torch.where(valid[:, None], ensemble, rows.mean(dim=0))
    if first.dim() == 4:
        n, _, h, w = first.shape
        return ensemble.reshape(n, h, w, -1).permute(0, 3, 1, 2).contiguous()
    return ensemble


def kdcl_error_gram(logits_list: Sequence[Tensor],
                    target: Tensor,
                    ignore_index: int = 255) -> Tuple[Tensor, Tensor]:
    """Sums behind KDCL-General's error covariance, ready to all-reduce.

    ``sum_n (f_i(x_n) - t_n) . (f_j(x_n) - t_n)`` over samples (labelled
    pixels) ``n``, with ``f_i`` network ``i``'s softmax probabilities and
    ``t`` the one-hot label.

    Args:
        logits_list (list[Tensor]): M logits ``(N, C[, H, W])``.
        target (Tensor): ``(N,)`` classes or ``(N, H, W)`` label maps.
        ignore_index (int): Ignored label of dense targets.

    Returns:
        tuple[Tensor, Tensor]: ``(M, M)`` float64 sums and the float64
        count of samples (pixels).
    """
    rows, labels, valid = _kdcl_rows(logits_list, target, ignore_index)
    onehot = F.one_hot(labels, rows.shape[-1]).double()
    errors = rows.double().softmax(dim=2)[:, valid] - onehot[valid]
    gram = torch.einsum('ipc,jpc->ij', errors, errors)
    return gram, valid.sum().double()


def perrone_cooper_weights(covariance: Tensor, eps: float = 1e-6) -> Tensor:
    """Perrone-Cooper generalised ensemble weights.

    ``w_k = sum_j (C^-1)_kj / sum_ij (C^-1)_ij`` with ``C + eps * I``
    inverted (used by KDCL-General, Guo et al., CVPR 2020).

    Args:
        covariance (Tensor): ``(M, M)`` error covariance ``C``.
        eps (float): Ridge added to the diagonal. Defaults to 1e-6.

    Returns:
        Tensor: ``(M,)`` float64 weights summing to 1.
    """
    cov = covariance.double()
    cov = cov + eps * torch.eye(len(cov), dtype=cov.dtype, device=cov.device)
    row_sums = torch.linalg.solve(cov, torch.ones_like(cov[0]))
    return row_sums / row_sums.sum()


def kdcl_general_weights(logits_list: Sequence[Tensor],
                         target: Tensor,
                         eps: float = 1e-6,
                         ignore_index: int = 255) -> Tensor:
    """KDCL-General weights from the networks' predictions on a held-out
    set: :func:`perrone_cooper_weights` of
    ``C_ij = mean_n (f_i - t) . (f_j - t)`` (see :func:`kdcl_error_gram`).

    Args:
        logits_list (list[Tensor]): M logits ``(N, C[, H, W])``.
        target (Tensor): Labels.
        eps (float): Ridge of :func:`perrone_cooper_weights`.
        ignore_index (int): Ignored label of dense targets.

    Returns:
        Tensor: ``(M,)`` float64 weights summing to 1.
    """
    gram, count = kdcl_error_gram(logits_list, target, ignore_index)
    return perrone_cooper_weights(gram / count.clamp(min=1), eps)


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
