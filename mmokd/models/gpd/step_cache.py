"""Each DT-sized weight materialised, and its gradient reduced, once per
optimizer step.

Guo et al., GPD (ICLR 2025), Sec. 3.2-3.3: every conv / linear op of the
store computes with its full weight ``K`` as the dynamic teacher (DT) and
with a scaled slice of it as the student; for a multi-branch convolution
``K`` is the merged kernel of its branches (merging is linear in the branch
weights and scales each output channel, so merging the branches' student
slices equals slicing and scaling ``K``). A GPD step runs the DT forward
and backward, then the student forward and backward, then one optimizer
step. Inside :func:`step_weight_cache`:

* the first forward of the step (the DT's) computes ``K`` once without
  autograd (the merge, or the weight itself) and computes with a detached
  ``K_leaf``; its backward leaves the DT's gradient on ``K_leaf``;
* the second forward (the student's) computes with the view of ``K_leaf``
  through :class:`_SharedView`, whose backward adds the student's
  gradient into that DT-sized buffer, on the student's slice only, and
  turns it into the parameters' gradient once, for both modes (for a
  multi-branch kernel the merge's backward, the 3x3 branch's gradient
  written into the buffer; otherwise the buffer itself). The kernel is
  dropped at the second forward, so the step holds no more memory than
  with one merge per forward.

So the parameters get the gradient of both losses in the second backward
(the same sum as two forwards, each with its own backward), without the
zero-filled DT-sized gradient of every student slice, its sum with the
DT's, or a second merge. Under DDP the DT half must run under ``no_sync``
(``mmokd.GPD.train_step`` does), since only the second backward reaches
the parameters. The cache lives for one step: leaving the context drops
every cached weight, so nothing outlives the optimizer step, a
``load_state_dict``, a ``.to()`` or an EMA swap; inside it, a weight is
computed again when one of its parameters changed (version, storage, dtype
or device).
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .mode import GPDModeMixin


class StepCachedMixin(GPDModeMixin):
    """An op whose full (DT) weight can be materialised once per step.

    Subclasses implement :meth:`full_weight`, :meth:`full_weight_backward`,
    :meth:`uncached_weight`, :meth:`view` and :meth:`add_view_grad`.

    Attributes:
        cache_step_weight (bool): Whether :func:`step_weight_cache` may
            cache this op's weight (``True``; see
            :func:`set_step_weight_caching`).
    """

    cache_step_weight: bool = True
    _step_entry: Optional['_StepEntry'] = None
    _step_cache_active: bool = False

    def cached_parameters(self) -> List[Tensor]:
        """The parameters the full weight is computed from."""
        return [self.weight]

    def full_weight(self) -> Tensor:
        """The DT's full weight, computed without autograd (the weight
        itself, detached, for an op without branches)."""
        return self.weight.detach()

    def full_weight_backward(self, grad: Tensor,
                             needs: Tuple[bool, ...]) -> Tuple[Tensor, ...]:
        """Gradients of :meth:`cached_parameters` from that of
        :meth:`full_weight`.

        Args:
            grad (Tensor): Gradient of the full weight, owned by the caller
                (may be reused for the result).
            needs (tuple[bool]): Which parameters need their gradient.

        Returns:
            tuple: One gradient (or ``None``) per cached parameter.
        """
        return (grad, )

    def step_weight(self) -> Tensor:
        """The weight of the current mode, from the step's cache when one
        is active (see the module docstring)."""
        if not (self._step_cache_active and torch.is_grad_enabled()):
            return self.uncached_weight()
        params = self.cached_parameters()
        entry = self._step_entry
        key = _parameter_key(params)
        if entry is not None and entry.key != key:
            entry.check_consumed()
            entry = None
        if entry is None:
            with torch.no_grad():
                full = self.full_weight()
            entry = self._step_entry = _StepEntry(
                full, key, any(p.requires_grad for p in params))
            return self.view(entry.leaf)
        if entry.shared:  # a third forward in one step: no sharing
            return self.uncached_weight()
        return entry.share(self, params)


class _StepEntry:
    """One op's full weight during a step.

    Args:
        full (Tensor): The full weight, without autograd graph.
        key (tuple): :func:`_parameter_key` of the parameters it was
            computed from.
        requires_grad (bool): Whether any of them requires a gradient.
    """

    def __init__(self, full: Tensor, key: tuple,
                 requires_grad: bool) -> None:
        self.leaf = full.detach().requires_grad_(requires_grad)
        self.key = key
        self.shared = False

    def share(self, op: 'StepCachedMixin', params: List[Tensor]) -> Tensor:
        """The second forward's weight: the view of the full weight whose
        backward carries the first backward's gradient on to the
        parameters. Drops the full weight, which the second forward no
        longer needs.

        Args:
            op (StepCachedMixin): The op, in the second forward's mode.
            params (list[Tensor]): Its :meth:`~StepCachedMixin.
                cached_parameters`.

        Returns:
            Tensor: The mode's weight.
        """
        if self.leaf.requires_grad and self.leaf.grad is None:
            raise RuntimeError(_ORDER_ERROR)
        weight = _SharedView.apply(self, op, *params)
        self.leaf = None
        self.shared = True
        return weight

    def check_consumed(self) -> None:
        """Raises if a gradient on the detached weight was never passed on
        to the parameters."""
        if self.leaf is not None and self.leaf.grad is not None:
            raise RuntimeError(_ORDER_ERROR)


_ORDER_ERROR = (
    'step_weight_cache: a forward of the step ran before the backward of '
    'the one before it, or a gradient reached the merged kernel after the '
    "step's second forward; run each backward before the next forward "
    "(the GPD train step's order) or switch the cache off "
    '(set_step_weight_caching(model, False)).')


def _parameter_key(params: List[Tensor]) -> tuple:
    """What identifies the current values of ``params``."""
    return tuple((p._version, p.data_ptr(), p.dtype, p.device)
                 for p in params)


class _SharedView(torch.autograd.Function):
    """The current mode's view of the step's full weight; its backward adds
    the gradient earlier backward passes left on the detached weight, so
    that the parameters' gradient (the merge's backward for a multi-branch
    kernel) is computed once for the whole step, in the buffer the first
    backward wrote."""

    @staticmethod
    def forward(ctx, entry: _StepEntry, op: StepCachedMixin,
                *params: Tensor) -> Tensor:
        leaf = entry.leaf
        ctx.op, ctx.student = op, op.is_student
        ctx.full_shape = leaf.shape
        ctx.earlier, leaf.grad = leaf.grad, None
        ctx.save_for_backward(*params)
        weight = op.view(leaf.detach())
        if weight.untyped_storage().data_ptr() == \
                leaf.untyped_storage().data_ptr():
            weight = weight.clone()
        return weight

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tuple[Optional[Tensor], ...]:
        ctx.saved_tensors  # raises if a parameter changed since
        full_grad = ctx.earlier
        ctx.earlier = None
        if full_grad is None:
            full_grad = grad.new_zeros(ctx.full_shape)
        ctx.op.add_view_grad(full_grad, grad, ctx.student)
        return (None, None) + tuple(
            ctx.op.full_weight_backward(full_grad, ctx.needs_input_grad[2:]))


def _cached_ops(model: nn.Module) -> List[StepCachedMixin]:
    return [
        m for m in model.modules()
        if isinstance(m, StepCachedMixin) and m.cache_step_weight
    ]


@contextmanager
def step_weight_cache(model: nn.Module) -> Iterator[nn.Module]:
    """Merges each multi-branch kernel of ``model`` once for the block.

    Use around one optimizer step whose forwards each have their backward
    before the next forward (DT, then student; see the module docstring).

    Example:
        >>> with step_weight_cache(store):
        ...     loss_dt(store).backward()      # merges, DT gradient
        ...     loss_s(store).backward()       # reuses; one merge backward
        ...     optimizer.step()

    Args:
        model (nn.Module): A network expanded by
            :func:`expand_to_dynamic_teacher`.

    Yields:
        nn.Module: ``model``.
    """
    ops = _cached_ops(model)
    for op in ops:
        op._step_entry, op._step_cache_active = None, True
    entries = []
    try:
        yield model
    finally:
        entries = [op._step_entry for op in ops]
        for op in ops:
            op._step_entry, op._step_cache_active = None, False
    for entry in entries:  # only after a block without exception
        if entry is not None:
            entry.check_consumed()


def set_step_weight_caching(model: nn.Module, enabled: bool) -> None:
    """Lets :func:`step_weight_cache` cache ``model``'s ops, or not (then
    every forward merges its own kernel, e.g. as a reference).

    Args:
        model (nn.Module): An expanded network.
        enabled (bool): Whether to cache.
    """
    for module in model.modules():
        if isinstance(module, StepCachedMixin):
            module.cache_step_weight = enabled
