"""Online distillation terms on a dense detection head's classification
outputs (mmdet 3.x): the class posteriors of every prior of every FPN
level, batch padding left out.

Layout. A head's classification output at one FPN level is an
``(N, A * K, H, W)`` map: ``A`` priors per position, ``K`` class logits
per prior (``K = C`` for sigmoid heads, ``C + 1`` for softmax heads).
mmdet flattens it into rows in the order (level, image, y, x, prior)
(:func:`det_rows`); the per-level masks here are ``(N, H * W * A)`` in
that order, the layout of ``prior_generator.valid_flags``. Terms that
back-propagate work on the ``(N, A, K, H, W)`` view of the map
(:func:`level_view`) so that no copy of the learner's logits is kept for
backward.

No published online distillation method is defined on detection heads;
the definitions follow DML (Zhang et al., CVPR 2018, Eq. 2), KDCL (Guo et
al., CVPR 2020, Sec. 3.2) and SwitOKD (Qian et al., ECCV 2022, Sec. 3.2)
with each prior's class posterior in the place of an image's, and
``docs/design.md`` ("Detection") states the choices.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .kdcl import class_row_losses, kdcl_linear_weights

#: Class activations of mmdet dense heads (``use_sigmoid_cls``).
ACTIVATIONS = ('sigmoid', 'softmax')


def level_view(cls_score: Tensor, num_classes: int) -> Tensor:
    """A level's ``(N, A * K, H, W)`` map as an ``(N, A, K, H, W)`` view.

    Args:
        cls_score (Tensor): One level's classification output.
        num_classes (int): ``K``, the logits per prior.

    Returns:
        Tensor: The view (no copy).
    """
    n, channels, h, w = cls_score.shape
    if channels % num_classes:
        raise ValueError(
            f'level_view: {channels} channels are not a multiple of '
            f'{num_classes} class logits per prior.')
    return cls_score.view(n, channels // num_classes, num_classes, h, w)


def mask_view(mask: Tensor, shape: torch.Size) -> Tensor:
    """An ``(N, H * W * A)`` per-prior mask on the ``(N, A, H, W)`` grid of
    :func:`level_view` (``shape`` is that view's shape)."""
    n, a, _, h, w = shape
    return mask.view(n, h, w, a).permute(0, 3, 1, 2)


def det_rows(cls_scores: Sequence[Tensor], num_classes: int) -> Tensor:
    """Every level's logits as ``(P, K)`` rows in mmdet's order (level,
    image, y, x, prior), as its losses flatten them.

    Args:
        cls_scores (list[Tensor]): ``(N, A * K, H, W)`` per level.
        num_classes (int): ``K``.

    Returns:
        Tensor: ``(P, K)`` rows (a copy).
    """
    return torch.cat([
        score.permute(0, 2, 3, 1).reshape(-1, num_classes)
        for score in cls_scores
    ])


def padding_valid_masks(prior_generator, featmap_sizes: Sequence[Tuple[int,
                                                                       int]],
                        pad_shapes: Sequence[Tuple[int, int]],
                        device: torch.device) -> List[Tensor]:
    """Which priors lie inside each image's own padded shape.

    mmdet pads a batch to its largest image; priors over the batch padding
    beyond an image's own ``pad_shape`` see no image. Anchor heads leave
    them out of their loss with ``prior_generator.valid_flags``; the
    distillation terms leave them out likewise (as label 255 in
    segmentation).

    Args:
        prior_generator: The head's ``prior_generator``
            (``AnchorGenerator`` or ``MlvlPointGenerator``).
        featmap_sizes (list[tuple[int, int]]): ``(H, W)`` per level.
        pad_shapes (list[tuple]): Each image's ``pad_shape`` (``(h, w)``
            first).
        device (torch.device): Device of the masks.

    Returns:
        list[Tensor]: ``(N, H * W * A)`` boolean masks, one per level.
    """
    per_image = [
        prior_generator.valid_flags(featmap_sizes, tuple(shape[:2]), device)
        for shape in pad_shapes
    ]
    return [
        torch.stack([flags[level] for flags in per_image]).bool()
        for level in range(len(featmap_sizes))
    ]


def binary_kl(logits_s: Tensor,
              logits_t: Tensor,
              tau: float = 1.0,
              dim: int = -1) -> Tensor:
    """Binary KL of independent per-class sigmoids, summed over classes.

    ``kl(a || b) = sum_c s(a_c) (log s(a_c) - log s(b_c))
    + s(-a_c) (log s(-a_c) - log s(-b_c))`` with ``a = z_t / tau``
    (detached target) and ``b = z_s / tau``, computed as
    ``BCE(b, s(a)) - BCE(a, s(a))``: only the target probabilities are
    kept for backward, and the gradient is ``(s(b) - s(a)) / tau``.

    Args:
        logits_s (Tensor): Learner logits.
        logits_t (Tensor): Target logits, same shape; detached here.
        tau (float): Temperature.
        dim (int): The class axis.

    Returns:
        Tensor: KL per item (``dim`` summed out), not scaled by
        ``tau ** 2``; float32 whatever the logits' type (under AMP).
    """
    logits_s, target = logits_s.float(), logits_t.detach().float()
    if tau != 1:
        logits_s, target = logits_s / tau, target / tau
    prob = target.sigmoid()
    cross = F.binary_cross_entropy_with_logits(
        logits_s, prob, reduction='none')
    entropy = F.binary_cross_entropy_with_logits(
        target, prob, reduction='none')
    return (cross - entropy).sum(dim)


def softmax_kl(logits_s: Tensor,
               logits_t: Tensor,
               tau: float = 1.0,
               dim: int = -1) -> Tensor:
    """``KL(softmax(z_t / tau) || softmax(z_s / tau))`` along ``dim``.

    Args:
        logits_s (Tensor): Learner logits.
        logits_t (Tensor): Target logits, same shape; detached here.
        tau (float): Temperature.
        dim (int): The class axis.

    Returns:
        Tensor: KL per item, not scaled by ``tau ** 2``; float32 whatever
        the logits' type (under AMP).
    """
    logits_s, target = logits_s.float(), logits_t.detach().float()
    if tau != 1:
        logits_s, target = logits_s / tau, target / tau
    log_p_t = F.log_softmax(target, dim=dim)
    return F.kl_div(
        F.log_softmax(logits_s, dim=dim),
        log_p_t,
        reduction='none',
        log_target=True).sum(dim)


def soft_foreground_count(cls_scores: Sequence[Tensor],
                          valid: Sequence[Tensor],
                          num_classes: int,
                          tau: float = 1.0) -> Tensor:
    """The target's soft foreground count
    ``N = max(1, sum_{p valid} max_c s(z_{p,c} / tau))``.

    A sigmoid head's dense KL is summed over some 10^5 priors per image,
    nearly all background; dividing by the number of priors would make it
    negligible beside the focal loss, which divides by the number of
    positives. ``N`` is the target network's own estimate of that number
    (its expected foreground priors).

    Args:
        cls_scores (list[Tensor]): The target's ``(N, A * K, H, W)`` per
            level.
        valid (list[Tensor]): ``(N, H * W * A)`` masks per level.
        num_classes (int): ``K``.
        tau (float): Temperature.

    Returns:
        Tensor: Scalar, detached, at least 1; float32 (a half-precision
        sum over 10^5 priors would lose its digits under AMP).
    """
    total = cls_scores[0].new_zeros((), dtype=torch.float32)
    for score, mask in zip(cls_scores, valid):
        view = level_view(score.detach(), num_classes)
        top = (view.float() / tau).sigmoid().amax(dim=2)
        total = total + (top * mask_view(mask, view.shape)).sum()
    return total.clamp(min=1)


def det_dml_kl(cls_scores_s: Sequence[Tensor],
               cls_scores_t: Sequence[Tensor],
               valid: Sequence[Tensor],
               num_classes: int,
               activation: str = 'sigmoid',
               tau: float = 1.0) -> Tensor:
    """DML's mimicry term on a dense head, learner ``s``, target ``t``.

    ``tau^2 / N_t * sum_{p valid} kl(z_{t,p} / tau || z_{s,p} / tau)``
    with :func:`binary_kl` and the target's :func:`soft_foreground_count`
    ``N_t`` for sigmoid heads; the mean of :func:`softmax_kl` over the
    valid priors for softmax heads. Box regression is not distilled (DML
    mimics class posteriors; Zhang et al., CVPR 2018, Eq. 2).

    Args:
        cls_scores_s (list[Tensor]): Learner's ``(N, A * K, H, W)`` per
            level.
        cls_scores_t (list[Tensor]): Target's, same layout; detached.
        valid (list[Tensor]): ``(N, H * W * A)`` masks per level
            (:func:`padding_valid_masks`).
        num_classes (int): ``K``.
        activation (str): ``'sigmoid'`` or ``'softmax'``.
        tau (float): Temperature.

    Returns:
        Tensor: Scalar loss, float32 (under AMP too: the prior count of a
        level exceeds half precision's range).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f'det_dml_kl: activation must be one of '
                         f'{ACTIVATIONS}, got "{activation}".')
    if len(cls_scores_s) != len(cls_scores_t):
        raise ValueError(
            f'det_dml_kl: {len(cls_scores_s)} learner levels against '
            f'{len(cls_scores_t)} target levels.')
    kl_of = binary_kl if activation == 'sigmoid' else softmax_kl
    total = cls_scores_s[0].new_zeros((), dtype=torch.float32)
    count = cls_scores_s[0].new_zeros((), dtype=torch.float32)
    for score_s, score_t, mask in zip(cls_scores_s, cls_scores_t, valid):
        view_s = level_view(score_s, num_classes)
        view_t = level_view(score_t, num_classes)
        if view_s.shape != view_t.shape:
            raise ValueError(
                f'det_dml_kl: learner level {tuple(score_s.shape)} against '
                f'target level {tuple(score_t.shape)}; the prior layouts '
                'differ.')
        grid = mask_view(mask, view_s.shape).float()
        total = total + (kl_of(view_s, view_t, tau, dim=2) * grid).sum()
        count = count + grid.sum()
    if activation == 'sigmoid':
        norm = soft_foreground_count(cls_scores_t, valid, num_classes, tau)
    else:
        norm = count.clamp(min=1)
    return tau**2 * total / norm


def binary_minlogit(logits: Tensor, onehot: Tensor) -> Tensor:
    """KDCL's MinLogit ensemble for independent sigmoids.

    Guo et al., CVPR 2020, Sec. 3.2 (MinLogit) on each class's two-logit
    form ``(0, z)``: subtracting the true class's logit leaves ``z`` for a
    positive class and ``-z`` for a negative one, and the ensemble takes
    the element-wise minimum of those: ``max_i z_i`` where ``y = 1``,
    ``min_i z_i`` where ``y = 0``.

    Args:
        logits (Tensor): ``(M, ..., K)`` stacked logits of ``M`` networks.
        onehot (Tensor): ``(..., K)`` binary targets.

    Returns:
        Tensor: ``(..., K)`` ensemble logits (detached).
    """
    logits = logits.detach()
    return torch.where(onehot.bool(), logits.amax(dim=0),
                       logits.amin(dim=0))


def det_onehot(labels: Tensor, num_logits: int, activation: str) -> Tensor:
    """mmdet's per-prior labels (background = the class count ``C``) as
    one-hot rows: zeros for background under sigmoid (``K = C``), the
    background column ``C`` under softmax (``K = C + 1``).

    Args:
        labels (Tensor): ``(P,)`` labels in ``[0, C]``.
        num_logits (int): ``K``.
        activation (str): ``'sigmoid'`` or ``'softmax'``.

    Returns:
        Tensor: ``(P, K)`` float rows.
    """
    width = num_logits + 1 if activation == 'sigmoid' else num_logits
    onehot = F.one_hot(labels.long(), width).float()
    return onehot[:, :num_logits]


def det_switokd_statistics(rows_s: Tensor, rows_t: Tensor, labels: Tensor,
                           valid: Tensor, activation: str) -> Tensor:
    """SwitOKD's switch statistics on a detection head's assigned priors.

    Qian et al., ECCV 2022, Sec. 3.2, per prior: ``p = s(z)`` (sigmoid
    heads) or ``softmax(z)``, ``y`` one-hot (:func:`det_onehot`),
    ``||p_s - y||_1``, ``||p_t - y||_1`` and ``||p_s - p_t||_1`` summed
    over the valid assigned priors, ready to be all-reduced; the means
    feed :func:`~.switokd.switokd_decision`.

    Args:
        rows_s (Tensor): Student ``(P, K)`` rows (:func:`det_rows`).
        rows_t (Tensor): Teacher rows, same layout.
        labels (Tensor): ``(P,)`` labels of the student's assignment.
        valid (Tensor): ``(P,)`` priors that count (inside the image,
            label weight > 0).
        activation (str): ``'sigmoid'`` or ``'softmax'``.

    Returns:
        Tensor: ``[sum s, sum t, sum G, count]`` (float64).
    """
    def probs(rows: Tensor) -> Tensor:
        rows = rows.detach().float()
        return rows.sigmoid() if activation == 'sigmoid' else \
            rows.softmax(dim=1)

    p_s, p_t = probs(rows_s)[valid], probs(rows_t)[valid]
    onehot = det_onehot(labels[valid], rows_s.shape[1], activation)
    dist = [(a - b).abs().sum(dim=1).double().sum()
            for a, b in ((p_s, onehot), (p_t, onehot), (p_s, p_t))]
    return torch.stack(dist + [valid.sum().double()])


#: KDCL ensembles defined on a detection head (per prior and class);
#: ``general`` (held-out Perrone-Cooper weights) is not.
DET_KDCL_STRATEGIES = ('minlogit', 'naive', 'linear', 'mean')


def _prior_rows(level: Tensor, num_logits: int) -> Tensor:
    """Detached ``(M, N, A * K, H, W)`` maps of ``M`` networks as
    ``(M, R, K)`` rows in the order (image, prior, y, x)."""
    m, n, _, h, w = level.shape
    return level.view(m, n, -1, num_logits, h, w).permute(
        0, 1, 2, 4, 5, 3).reshape(m, -1, num_logits)


def _prior_labels(labels: Tensor, shape: torch.Size) -> Tensor:
    """``(N, H * W * A)`` per-prior values in the order of
    :func:`_prior_rows` (``shape``: one network's ``(N, A * K, H, W)``)."""
    n, _, h, w = shape
    return labels.view(n, h, w, -1).permute(0, 3, 1, 2).reshape(-1)


def det_kdcl_ensemble(cls_scores: Sequence[Sequence[Tensor]],
                      labels: Sequence[Tensor],
                      assigned: Sequence[Tensor],
                      num_logits: int,
                      activation: str = 'sigmoid',
                      strategy: str = 'minlogit') -> List[Tensor]:
    """KDCL's ensemble ``z_t`` of several detection heads, per prior and
    class (Guo et al., CVPR 2020, Sec. 3.2), from one head's labels.

    Sigmoid heads (``K = C``, one-hot ``y``, zeros for background):
    ``'minlogit'`` is :func:`binary_minlogit`; ``'naive'`` takes per
    prior the network with the lowest binary cross-entropy summed over
    classes (:func:`~.kdcl.class_row_losses`); ``'linear'`` is
    ``sum_i alpha_i z_i`` with ``alpha`` on the simplex minimising the
    mean of that over the assigned priors
    (:func:`~.kdcl.kdcl_linear_weights`, uniform when no prior is
    assigned); ``'mean'`` the mean logits.
    Softmax heads (``K = C + 1``, background the last class): the same
    with cross-entropy, and ``'minlogit'`` is KDCL's own
    ``min_i (z_i - z_i[y])``.

    Args:
        cls_scores (list[list[Tensor]]): Per network, its
            ``(N, A * K, H, W)`` maps per level (same layout for all).
        labels (list[Tensor]): ``(N, H * W * A)`` labels per level
            (background ``C``), of the head whose targets are used.
        assigned (list[Tensor]): ``(N, H * W * A)`` masks of the priors
            that count (inside the image, label weight > 0): ``'linear'``
            fits ``alpha`` on them.
        num_logits (int): ``K``.
        activation (str): ``'sigmoid'`` or ``'softmax'``.
        strategy (str): One of :data:`DET_KDCL_STRATEGIES`.

    Returns:
        list[Tensor]: The detached ensemble maps per level.
    """
    if strategy not in DET_KDCL_STRATEGIES:
        raise ValueError(
            f'det_kdcl_ensemble: strategy must be one of '
            f'{DET_KDCL_STRATEGIES} on detection heads, got "{strategy}".')
    if activation not in ACTIVATIONS:
        raise ValueError(f'det_kdcl_ensemble: activation must be one of '
                         f'{ACTIVATIONS}, got "{activation}".')
    shapes = [score.shape for score in cls_scores[0]]
    rows = [
        _prior_rows(
            torch.stack([scores[level].detach() for scores in cls_scores]),
            num_logits) for level in range(len(shapes))
    ]
    label_rows = [
        _prior_labels(level, shape) for level, shape in zip(labels, shapes)
    ]
    if strategy in ('linear', 'mean'):
        num = len(cls_scores)
        if strategy == 'mean':
            alpha = torch.full((num, ), 1.0 / num, dtype=torch.float64)
        else:
            keep = [
                _prior_labels(mask, shape)
                for mask, shape in zip(assigned, shapes)
            ]
            kept = torch.cat([y[k] for y, k in zip(label_rows, keep)])
            alpha = kdcl_linear_weights(
                torch.cat([r[:, k] for r, k in zip(rows, keep)], dim=1),
                kept, activation=activation) if len(kept) else \
                torch.full((num, ), 1.0 / num, dtype=torch.float64)
        mixed = [
            torch.einsum('m,mrk->rk', alpha.to(level), level)
            for level in rows
        ]
    else:
        mixed = []
        for level, target in zip(rows, label_rows):
            index = torch.arange(len(target), device=level.device)
            if strategy == 'naive':
                onehot = det_onehot(target, num_logits, activation)
                best = class_row_losses(level, onehot.to(level),
                                        activation).argmin(dim=0)
                mixed.append(level[best, index])
            elif activation == 'sigmoid':
                mixed.append(
                    binary_minlogit(
                        level, det_onehot(target, num_logits, activation)))
            else:
                true_logit = level[:, index, target.long()]
                mixed.append((level - true_logit[..., None]).amin(dim=0))
    return [
        ensemble.view(n, -1, h, w, num_logits).permute(0, 1, 4, 2,
                                                       3).reshape(shape)
        for ensemble, (n, _, h, w), shape in zip(mixed, shapes, shapes)
    ]


def inside_positions(valid: Tensor, shape: torch.Size) -> Tensor:
    """Positions of an ``(N, C, H, W)`` level map that see the image: any
    of their priors is valid (:func:`padding_valid_masks`).

    Args:
        valid (Tensor): ``(N, H * W * A)`` mask of the level's priors.
        shape (torch.Size): The level map's shape.

    Returns:
        Tensor: ``(N, 1, H, W)`` float mask.
    """
    n, _, h, w = shape
    return valid.view(n, h, w, -1).any(dim=3)[:, None].float()


def det_adm_attention(feat_s: Tensor,
                      feat_t: Tensor,
                      inside: Tensor,
                      eps: float = 1e-5) -> Tuple[Tensor, Tensor]:
    """ADM's consensus and divergence maps on one FPN level.

    Chen et al., ICML 2025, Eqs. 7-8 (``(1 + S) / (1 + mean S)`` and
    ``(1 - S) / (1 - mean S)``) with ``S`` the per-position cosine of the
    two networks' level maps and the mean taken per image over the
    positions inside the image only (batch padding would otherwise pull
    it). Detached, float32.

    Args:
        feat_s (Tensor): ``(N, C, H, W)`` student map in the teacher's
            channels.
        feat_t (Tensor): ``(N, C, H, W)`` teacher map.
        inside (Tensor): ``(N, 1, H, W)`` mask (:func:`inside_positions`).
        eps (float): Added to the means.

    Returns:
        tuple[Tensor, Tensor]: ``(N, 1, H, W)`` consensus and divergence
        maps.
    """
    with torch.no_grad():
        sim = F.cosine_similarity(
            feat_s.detach().float(), feat_t.detach().float(), dim=1,
            eps=1e-12).clamp(-1.0, 1.0)[:, None]
        mean = (sim * inside).sum(dim=(2, 3), keepdim=True) / inside.sum(
            dim=(2, 3), keepdim=True).clamp(min=1)
        return ((sim + 1) / (mean + (1 + eps)), (1 - sim) / ((1 + eps) - mean))


def det_feature_mse(feats_s: Sequence[Tensor], feats_t: Sequence[Tensor],
                    inside: Sequence[Tensor]) -> Tensor:
    """ADM's feature term on FPN levels: ``(1 / L) * sum_l`` the mean
    squared difference over channels and positions inside the image
    (equal level weights: FPN levels are parallel scales).

    Args:
        feats_s (list[Tensor]): Adapted student maps per level.
        feats_t (list[Tensor]): Teacher maps per level (detached here).
        inside (list[Tensor]): ``(N, 1, H, W)`` masks per level.

    Returns:
        Tensor: Scalar loss, float32 (under AMP a half-precision sum of
        a level's 10^6 squares overflows).
    """
    total = feats_s[0].new_zeros((), dtype=torch.float32)
    for feat_s, feat_t, mask in zip(feats_s, feats_t, inside):
        mask = mask.float()
        squared = (feat_s.float() - feat_t.detach().float())**2 * mask
        total = total + squared.sum() / (mask.sum() * feat_s.shape[1]).clamp(
            min=1)
    return total / len(feats_s)
