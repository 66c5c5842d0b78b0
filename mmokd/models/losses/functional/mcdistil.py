"""MC-Distil's per-item losses, SGD look-ahead and weight hypergradients.

Tambat, S, Ramakrishnan, Shenoy, "Unified Wisdom: Harnessing Collaborative
Learning to Improve Efficacy of Knowledge Distillation", TMLR 2025
(Sec. 3; reference code AtharvaTambat/MC-Distil, ``train_mcdistil.py`` and
``meta.py``). Student ``i`` minimises a per-item weighted CE + KD loss
whose weights ``alpha_i, beta_i`` come from a coordinator network (C-Net);
the C-Net is trained on a held-out batch through a one-step SGD
look-ahead of every student.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .common import resize_labels, resize_like, valid_items


def mcdistil_item_losses(logits_s: Tensor,
                         logits_t: Tensor,
                         target: Tensor,
                         tau: float = 2.0,
                         ignore_index: Optional[int] = 255
                         ) -> Tuple[Tensor, Tensor, Tensor]:
    """Per-item cross-entropy and KL to the teacher (before weighting).

    For item ``b`` (a sample, or a pixel of the student's logits grid)::

        ce[b] = -log softmax(z_s[b])[y_b]
        kl[b] = sum_c p_t[b, c] (log p_t[b, c] - log p_s[b, c]),
        p = softmax(z / tau),

    the terms of MC-Distil's student loss (TMLR 2025, Sec. 3; reference
    ``train_mcdistil.py``, ``KLDivLoss(reduction='none')`` summed over
    classes). ``kl`` carries no ``tau^2``. The teacher is detached and,
    when dense, resized bilinearly to the student's grid; dense labels are
    resized by nearest neighbour. Items labelled ``ignore_index`` are left
    out (the convention of :mod:`~.common`: None leaves nothing out, as
    the classification task adapter gives) and are 0 in ``ce`` and
    ``kl``.

    Args:
        logits_s (Tensor): Student logits, ``(N, C)`` or ``(N, C, h, w)``.
        logits_t (Tensor): Teacher logits of the same layout (any dense
            size).
        target (Tensor): ``(N,)`` class indices or ``(N, H, W)`` label
            maps.
        tau (float): Softmax temperature of the KL. Defaults to 2.0.
        ignore_index (int, optional): Label left out. Defaults to 255
            (mmseg's).

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``ce``, ``kl`` and the boolean
        ``valid`` mask, each ``(N,)`` or ``(N, h, w)``.
    """
    logits_t = resize_like(logits_t.detach(), logits_s)
    target = resize_labels(target.long(), logits_s)
    valid = valid_items(target, ignore_index, logits_s)
    if valid is None:
        valid = torch.ones_like(target, dtype=torch.bool)
    safe_target = torch.where(valid, target, torch.zeros_like(target))
    ce = F.cross_entropy(logits_s, safe_target, reduction='none')
    log_p_s = F.log_softmax(logits_s / tau, dim=1)
    log_p_t = F.log_softmax(logits_t / tau, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=1)
    zero = torch.zeros((), dtype=ce.dtype, device=ce.device)
    return torch.where(valid, ce, zero), torch.where(valid, kl, zero), valid


def _on_grid(weight: Tensor, grid: Tensor) -> Tensor:
    """A ``(N,)`` or ``(N, h', w')`` weight on ``grid``'s ``(N[, h, w])``
    layout (dense weights resized bilinearly)."""
    if weight.dim() != grid.dim():
        raise ValueError(
            f'MC-Distil weights of shape {tuple(weight.shape)} do not fit '
            f'items of shape {tuple(grid.shape)}: per-sample weights need '
            'a per-sample loss, dense weights a dense one (set the C-Net\'s '
            'dense=True for segmentation).')
    if weight.dim() == 1 or weight.shape[1:] == grid.shape[1:]:
        return weight
    return F.interpolate(
        weight[:, None],
        size=grid.shape[1:],
        mode='bilinear',
        align_corners=False)[:, 0]


def mcdistil_weighted_losses(ce: Tensor,
                             kl: Tensor,
                             alpha: Tensor,
                             beta: Tensor,
                             valid: Tensor,
                             tau: float = 2.0) -> Tuple[Tensor, Tensor]:
    """MC-Distil's student loss, ``L_i = loss_ce + loss_kd``.

    TMLR 2025, Sec. 3 (reference ``train_mcdistil.py``)::

        loss_ce = sum_b alpha[b] ce[b] valid[b] / max(sum_b valid[b], 1)
        loss_kd = tau^2 sum_b beta[b] kl[b] valid[b] / max(sum valid, 1)

    With ``alpha = beta = 1`` this is CE plus Hinton's KD. Dense weights
    of another size are resized bilinearly to the items' grid first.

    Args:
        ce (Tensor): Per-item CE from :func:`mcdistil_item_losses`.
        kl (Tensor): Per-item KL (without ``tau^2``).
        alpha (Tensor): CE weights, ``(N,)`` or ``(N, h', w')``.
        beta (Tensor): KD weights, same layout as ``alpha``.
        valid (Tensor): Boolean mask of the items that count.
        tau (float): Temperature the KL was computed with. Defaults to 2.0.

    Returns:
        tuple[Tensor, Tensor]: Scalars ``loss_ce`` and ``loss_kd``.
    """
    count = valid.sum().clamp(min=1)
    mask = valid.to(ce.dtype)
    loss_ce = (_on_grid(alpha, ce) * ce * mask).sum() / count
    loss_kd = tau**2 * (_on_grid(beta, kl) * kl * mask).sum() / count
    return loss_ce, loss_kd


def sgd_lookahead(params: Sequence[Tensor],
                  grads: Sequence[Optional[Tensor]],
                  momentum_buffers: Sequence[Optional[Tensor]],
                  lr: float,
                  momentum: float = 0.,
                  dampening: float = 0.,
                  weight_decay: float = 0.,
                  nesterov: bool = False) -> List[Tensor]:
    """One ``torch.optim.SGD`` step of a parameter group, out of place.

    The look-ahead ("virtual student") of MC-Distil (TMLR 2025, Sec. 3;
    reference ``meta.py``, ``MetaSGD``): per parameter, with
    ``theta`` detached and ``g`` differentiable (e.g. built with
    ``create_graph=True``)::

        d = g + weight_decay * theta
        b = momentum * buf + (1 - dampening) * d   (buf = d if missing)
        d = d + momentum * b if nesterov else b    (when momentum != 0)
        theta' = theta - lr * d

    which is torch's update (torch also starts a missing buffer from
    ``d``); a parameter without gradient (None) is left as it is, as torch
    skips it. Nothing is modified in place: the buffers and parameters
    stay as they were.

    Args:
        params (Sequence[Tensor]): The group's parameters.
        grads (Sequence[Tensor | None]): Their gradients.
        momentum_buffers (Sequence[Tensor | None]): The optimizer's
            ``momentum_buffer`` of each parameter, None when absent.
        lr (float): The group's current learning rate.
        momentum (float): Momentum factor. Defaults to 0.
        dampening (float): Dampening of the momentum. Defaults to 0.
        weight_decay (float): L2 penalty. Defaults to 0.
        nesterov (bool): Nesterov momentum. Defaults to False.

    Returns:
        list[Tensor]: The stepped parameters, in ``params`` order.
    """
    stepped = []
    for param, grad, buf in zip(params, grads, momentum_buffers):
        if grad is None:
            stepped.append(param)
            continue
        theta = param.detach()
        step = grad + weight_decay * theta if weight_decay != 0 else grad
        if momentum != 0:
            buf = step if buf is None else \
                momentum * buf.detach() + (1 - dampening) * step
            step = step + momentum * buf if nesterov else buf
        stepped.append(theta - lr * step)
    return stepped


def lookahead_weight_grads(d_ce: Tensor, d_kl: Tensor, lr: float,
                           tau: float, count: float) -> Tuple[Tensor, Tensor]:
    """Closed-form gradient of the meta loss w.r.t. the per-item weights.

    The look-ahead ``theta' = theta - lr * grad L_i`` is linear in the
    weights, so (TMLR 2025, Sec. 3, one SGD step)::

        dL_meta / d alpha[b] = -(lr / N) <v, grad_theta ce[b]>
        dL_meta / d beta[b]  = -(lr / N) tau^2 <v, grad_theta kl[b]>,
        v = grad_theta' L_val(theta'),

    where ``d_ce[b] = <v, grad_theta ce[b]>`` and ``d_kl`` are the
    directional derivatives of the per-item losses along ``v`` (e.g. by a
    central finite difference at ``theta +- eps v``).

    Args:
        d_ce (Tensor): Directional derivatives of the per-item CE.
        d_kl (Tensor): Directional derivatives of the per-item KL (without
            ``tau^2``).
        lr (float): Learning rate of the look-ahead step.
        tau (float): Temperature.
        count (float): ``N``, the number of valid items.

    Returns:
        tuple[Tensor, Tensor]: ``(g_alpha, g_beta)``, shaped as the inputs.
    """
    scale = -lr / max(float(count), 1.0)
    return scale * d_ce, scale * tau**2 * d_kl
