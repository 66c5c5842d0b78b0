"""KDCL's ensembles (Guo et al., CVPR 2020, Sec. 3.2): naive, linear
(simplex-constrained least cross-entropy), MinLogit, General
(Perrone-Cooper weights) and mean."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .common import class_last, label_rows, resize_like


KDCL_STRATEGIES = ('naive', 'linear', 'minlogit', 'general', 'mean')


def _kdcl_rows(logits_list: Sequence[Tensor], target: Tensor,
               ignore_index: Optional[int]) -> Tuple[Tensor, Tensor, Tensor]:
    """Detached logits of every network as ``(M, P, C)`` rows (resized to
    the first network's size), the ``(P,)`` labels and their validity
    (all True when ``ignore_index`` is None)."""
    first = logits_list[0].detach()
    stacked = torch.stack(
        [class_last(resize_like(z.detach(), first)) for z in logits_list])
    target, valid = label_rows(target, first, ignore_index)
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


def _onehot_rows(target: Tensor, num_logits: int, activation: str) -> Tensor:
    """``(P, K)`` float64 targets: one-hot labels (softmax), or per-class
    binary targets with label ``K`` the background, all zeros
    (sigmoid)."""
    width = num_logits + (activation == 'sigmoid')
    return F.one_hot(target.long(), width)[:, :num_logits].double()


def class_row_losses(rows: Tensor, onehot: Tensor,
                     activation: str) -> Tensor:
    """Each row's cross-entropy (softmax) or binary cross-entropy summed
    over classes (sigmoid) against ``onehot``.

    Args:
        rows (Tensor): ``(..., P, C)`` logits.
        onehot (Tensor): ``(P, C)`` targets, same dtype.
        activation (str): ``'softmax'`` or ``'sigmoid'``.

    Returns:
        Tensor: ``(..., P)`` losses.
    """
    if activation == 'sigmoid':
        return F.binary_cross_entropy_with_logits(
            rows, onehot.expand_as(rows), reduction='none').sum(-1)
    return -(onehot * F.log_softmax(rows, dim=-1)).sum(-1)


def kdcl_linear_weights(logits: Tensor,
                        target: Tensor,
                        max_steps: int = 100,
                        tol: float = 1e-7,
                        activation: str = 'softmax') -> Tensor:
    """KDCL-Linear: ``alpha = argmin CE(sum_i alpha_i z_i, y)`` on the
    simplex (``alpha >= 0``, ``sum alpha = 1``).

    The objective is convex in ``alpha``. Projected gradient descent with
    backtracking (float64, analytic gradient ``mean_n (p_n - y_n) . z_in``)
    starts from the best single network, so the result is never worse than
    any single network. ``activation='sigmoid'`` (detection heads of
    independent sigmoids) minimises the binary cross-entropy summed over
    classes instead, label ``C`` being the background (all-zero targets),
    and ``p`` is the sigmoid.

    Args:
        logits (Tensor): ``(M, P, C)`` detached rows of the M networks.
        target (Tensor): ``(P,)`` labels.
        max_steps (int): Gradient steps. Defaults to 100.
        tol (float): Stop when an accepted step moves ``alpha`` less.
        activation (str): ``'softmax'`` (default) or ``'sigmoid'``.

    Returns:
        Tensor: ``(M,)`` float64 weights on the simplex.
    """
    logits = logits.double()
    num = logits.shape[0]
    onehot = _onehot_rows(target, logits.shape[-1], activation)

    def objective(alpha: Tensor) -> Tensor:
        mixed = torch.einsum('m,mpc->pc', alpha, logits)
        return class_row_losses(mixed, onehot, activation).mean()

    vertex_loss = class_row_losses(logits, onehot, activation).mean(dim=1)
    alpha = F.one_hot(vertex_loss.argmin(), num).double()
    value = vertex_loss.min()
    step = 1.0
    for _ in range(max_steps):
        mixed = torch.einsum('m,mpc->pc', alpha, logits)
        probs = mixed.sigmoid() if activation == 'sigmoid' else \
            mixed.softmax(dim=1)
        grad = torch.einsum('pc,mpc->m', probs - onehot, logits) / len(target)
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
                  ignore_index: Optional[int] = 255,
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
    ``ignore_index=None`` leaves nothing out (classification, where
    class 255 is a real ImageNet class).

    Args:
        logits_list (list[Tensor]): M >= 1 logits ``(N, C)`` or
            ``(N, C, H, W)``.
        target (Tensor): ``(N,)`` classes or ``(N, H, W)`` label maps.
        strategy (str): One of ``KDCL_STRATEGIES``.
        ignore_index (int, optional): Label left out; None: none.
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
                    ignore_index: Optional[int] = 255
                    ) -> Tuple[Tensor, Tensor]:
    """Sums behind KDCL-General's error covariance, ready to all-reduce.

    ``sum_n (f_i(x_n) - t_n) . (f_j(x_n) - t_n)`` over samples (labelled
    pixels) ``n``, with ``f_i`` network ``i``'s softmax probabilities and
    ``t`` the one-hot label.

    Args:
        logits_list (list[Tensor]): M logits ``(N, C[, H, W])``.
        target (Tensor): ``(N,)`` classes or ``(N, H, W)`` label maps.
        ignore_index (int, optional): Label left out; None: none.

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
                         ignore_index: Optional[int] = 255) -> Tensor:
    """KDCL-General weights from the networks' predictions on a held-out
    set: :func:`perrone_cooper_weights` of
    ``C_ij = mean_n (f_i - t) . (f_j - t)`` (see :func:`kdcl_error_gram`).

    Args:
        logits_list (list[Tensor]): M logits ``(N, C[, H, W])``.
        target (Tensor): Labels.
        eps (float): Ridge of :func:`perrone_cooper_weights`.
        ignore_index (int, optional): Label left out; None: none.

    Returns:
        Tensor: ``(M,)`` float64 weights summing to 1.
    """
    gram, count = kdcl_error_gram(logits_list, target, ignore_index)
    return perrone_cooper_weights(gram / count.clamp(min=1), eps)
