"""GPD batch normalisation with separate running statistics per mode.

Guo et al., GPD (ICLR 2025), Sec. 3.2. An
expanded BN stores the dynamic teacher's (DT's) ``gamma`` / ``beta``; the
student uses ``gamma[:C]`` / ``beta[:C]``. The DT computes ``BN(r x) / r``:
its ``1/r``-scaled input is brought back to the student's scale, so the
normalisation (and ``eps``) behaves exactly as in the student (computed
as a BN of ``x`` with ``eps / r^2`` and the affine divided by ``r``, which
is the same function without two activation-sized products). Only the
affine parameters are shared: the student's running statistics live in
``student_running_mean`` / ``student_running_var`` and are initialised
from the student's statistics at Inverse Reparameterization (not lazily as
in the reference); ``eps`` and ``momentum`` are kept (the reference drops
``eps``).

A non-expanded BN (a segmentation head outside ``scope``, shared in full by
student and DT; an extension beyond the paper) keeps the same split of
running statistics and no scaling.

``SyncBatchNorm`` students get ``sync=True``: in training, batch mean and
variance are all-reduced over the process group in both modes (with
autograd through the reduction); with one process it equals BN.
"""
from typing import Dict, Optional

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn.functional as F
from torch import Tensor, nn

from .layout import tile
from .mode import GPDModeMixin


class GPDBatchNorm2d(GPDModeMixin, nn.Module):
    """``BatchNorm2d`` / ``SyncBatchNorm`` shared by the student and the DT.

    Args:
        bn (nn.BatchNorm2d | nn.SyncBatchNorm): The student's BN
            (``track_running_stats=True``).
        ratio (int): Expansion ratio ``r``.
        expanded (bool): Whether the normalised tensor is widened.
    """

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm, ratio: int,
                 expanded: bool) -> None:
        super().__init__()
        if not bn.track_running_stats:
            raise ValueError(f'{type(bn).__name__} without running '
                             'statistics is not supported by GPD')
        self.ratio = ratio
        self.expanded = expanded
        self.num_features = bn.num_features
        self.eps = bn.eps
        self.momentum = bn.momentum
        self.sync = isinstance(bn, nn.SyncBatchNorm)
        self.process_group = getattr(bn, 'process_group', None)
        copies = ratio if expanded else 1
        if bn.affine:
            self.weight = nn.Parameter(tile(bn.weight.detach(), copies, 0))
            self.bias = nn.Parameter(tile(bn.bias.detach(), copies, 0))
        else:
            self.weight = self.bias = None
        for prefix, stat_copies in (('', copies), ('student_', 1)):
            self.register_buffer(f'{prefix}running_mean',
                                 tile(bn.running_mean, stat_copies, 0).clone())
            self.register_buffer(f'{prefix}running_var',
                                 tile(bn.running_var, stat_copies, 0).clone())
            self.register_buffer(f'{prefix}num_batches_tracked',
                                 bn.num_batches_tracked.clone())

    def _stats(self) -> tuple:
        prefix = 'student_' if self.is_student else ''
        return (getattr(self, f'{prefix}running_mean'),
                getattr(self, f'{prefix}running_var'),
                getattr(self, f'{prefix}num_batches_tracked'))

    def _affine(self) -> tuple:
        if self.weight is None or not (self.is_student and self.expanded):
            return self.weight, self.bias
        return (self.weight[:self.num_features], self.bias[:self.num_features])

    def _momentum(self, num_batches_tracked: Tensor) -> float:
        """Advances the batch counter; returns the averaging factor."""
        num_batches_tracked.add_(1)
        if self.momentum is None:
            return 1.0 / float(num_batches_tracked)
        return self.momentum

    def forward(self, x: Tensor) -> Tensor:
        """Normalises ``x`` with the mode's affine and statistics."""
        weight, bias = self._affine()
        mean, var, count = self._stats()
        scale = self.ratio if self.expanded and not self.is_student else 1
        momentum = self._momentum(count) if self.training else 0.0
        if self.training and self.sync and _world_size(
                self.process_group) > 1:
            out = _synced_batch_norm(x * scale, weight, bias, mean, var,
                                     momentum, self.eps, self.process_group)
            return out / scale if scale != 1 else out
        if scale == 1:
            return F.batch_norm(x, mean, var, weight, bias, self.training,
                                momentum, self.eps)
        return _scaled_batch_norm(x, scale, weight, bias, mean, var,
                                  self.training, momentum, self.eps)

    @torch.no_grad()
    def add_ir_noise(self, std: float) -> None:
        """Adds ``N(0, std^2)`` to the tiled affine parameters."""
        if self.expanded and self.weight is not None:
            for param in (self.weight, self.bias):
                param.add_(torch.randn_like(param), alpha=std)

    def student_tensors(self) -> Dict[str, Tensor]:
        """The student's BN parameters and statistics (original names)."""
        c = self.num_features
        tensors = {}
        if self.weight is not None:
            tensors['weight'] = self.weight[:c].detach().clone()
            tensors['bias'] = self.bias[:c].detach().clone()
        tensors['running_mean'] = self.student_running_mean.clone()
        tensors['running_var'] = self.student_running_var.clone()
        tensors['num_batches_tracked'] = (
            self.student_num_batches_tracked.clone())
        return tensors

    def extra_repr(self) -> str:
        return (f'{self.num_features}, ratio={self.ratio}, '
                f'expanded={self.expanded}, eps={self.eps}, '
                f'momentum={self.momentum}, sync={self.sync}')


def _scaled_batch_norm(x: Tensor, scale: int, weight: Optional[Tensor],
                       bias: Optional[Tensor], running_mean: Tensor,
                       running_var: Tensor, training: bool, momentum: float,
                       eps: float) -> Tensor:
    """``BN(scale * x) / scale`` without the two activation-sized products.

    The batch statistics of ``s x`` are ``s`` and ``s^2`` times those of
    ``x``, so ``BN(s x) / s`` is a BN of ``x`` with ``eps / s^2``, affine
    ``/ s`` and running statistics ``/ s``, ``/ s^2``; the running
    statistics (of ``s x``, as the DT's buffers hold them) are updated
    through that scaled copy. Exact for a power-of-two ``s``, else equal
    up to rounding.

    Args:
        x (Tensor): The DT's input, at ``1 / scale`` of the student's
            scale.
        scale (int): The expansion ratio.
        weight (Tensor, optional): BN's ``gamma``.
        bias (Tensor, optional): BN's ``beta``.
        running_mean (Tensor): Running mean of ``scale * x``, updated in
            training.
        running_var (Tensor): Running variance of ``scale * x``.
        training (bool): Batch statistics (and update) or running ones.
        momentum (float): Averaging factor of the update.
        eps (float): BN's ``eps``.

    Returns:
        Tensor: ``BN(scale * x) / scale``.
    """
    if weight is None:
        weight = x.new_ones(x.shape[1])
    if bias is None:
        bias = x.new_zeros(x.shape[1])
    mean = running_mean / scale
    var = running_var / scale**2
    out = F.batch_norm(x, mean, var, weight / scale, bias / scale, training,
                       momentum, eps / scale**2)
    if training:
        with torch.no_grad():
            torch.mul(mean, scale, out=running_mean)
            torch.mul(var, scale**2, out=running_var)
    return out


def _world_size(group: Optional[object]) -> int:
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group)


def _synced_batch_norm(x: Tensor, weight: Optional[Tensor],
                       bias: Optional[Tensor], running_mean: Tensor,
                       running_var: Tensor, momentum: float, eps: float,
                       group: Optional[object]) -> Tensor:
    """Training-mode BN with mean / variance over all processes' batches.

    Two differentiable all-reduces (sums, then squared deviations); updates
    the running statistics with the unbiased variance like ``BatchNorm``.
    """
    dims = [0] + list(range(2, x.dim()))
    count = x.new_tensor([x.numel() / x.shape[1]])
    sums = dist_fn.all_reduce(torch.cat([x.sum(dims), count]), group=group)
    total = sums[-1]
    mean = sums[:-1] / total
    shape = [1, -1] + [1] * (x.dim() - 2)
    centred = x - mean.view(shape)
    var = dist_fn.all_reduce(centred.pow(2).sum(dims), group=group) / total
    with torch.no_grad():
        running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
        unbiased = var * total / (total - 1).clamp(min=1)
        running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    out = centred * torch.rsqrt(var + eps).view(shape)
    if weight is not None:
        out = out * weight.view(shape) + bias.view(shape)
    return out
