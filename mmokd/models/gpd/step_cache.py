"""One merge of each multi-branch kernel per optimizer step.

Guo et al., GPD (ICLR 2025), Sec. 3.3: a multi-branch convolution of the
store computes one merged kernel ``K`` of its branches per forward; the
student's kernel is the view of ``K`` (merging is linear in the branch
weights and scales each output channel, so merging the branches' student
slices equals slicing and scaling ``K``). A GPD step runs the dynamic
teacher (DT) forward and backward, then the student forward and backward,
then one optimizer step. Inside :func:`step_weight_cache`:

* the first forward of the step (the DT's) merges ``K`` once, keeps the
  merge's graph to the branch parameters and computes with a detached
  copy ``K_leaf``; its backward leaves the DT's gradient on ``K_leaf``;
* the second forward (the student's) computes with the view of ``K_leaf``
  through :class:`_SharedView`, whose backward adds the DT's gradient to
  the student's and runs the merge's backward once, for both modes; the
  kernel itself is dropped then (the DT's graph that saved it is gone),
  so the step holds no more memory than with one merge per forward.

So the branch parameters get the gradient of both losses in the second
backward (the same sum as two merges, each with its own backward) and the
merge runs once per step instead of once per forward. Under DDP the DT half
must run under ``no_sync`` (``mmokd.GPD.train_step`` does), since only the
second backward reaches the branch parameters. The cache lives for one
step: leaving the context drops every merged kernel and its graph, so
nothing outlives the optimizer step, a ``load_state_dict``, a ``.to()`` or
an EMA swap; inside it, a kernel is merged again when a branch parameter
changed (version, storage, dtype or device).
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

import torch
from torch import Tensor, nn

from .mode import GPDModeMixin


class StepCachedMixin(GPDModeMixin):
    """An op whose full (DT) weight can be materialised once per step.

    Subclasses implement :meth:`full_weight`, :meth:`uncached_weight`,
    :meth:`view` and :meth:`add_view_grad`.

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
        return list(self.parameters(recurse=False))

    def step_weight(self) -> Tensor:
        """The weight of the current mode, from the step's cache when one
        is active (see the module docstring)."""
        if not (self._step_cache_active and torch.is_grad_enabled()):
            return self.uncached_weight()
        entry = self._step_entry
        key = _parameter_key(self.cached_parameters())
        if entry is not None and entry.key != key:
            entry.check_consumed()
            entry = None
        if entry is None:
            full = self.full_weight()
            entry = self._step_entry = _StepEntry(full, key)
            return self.view(entry.leaf)
        if entry.shared:  # a third forward in one step: no sharing
            return self.uncached_weight()
        return entry.share(self)


class _StepEntry:
    """One op's merged kernel during a step.

    Args:
        full (Tensor): The merged kernel, with its graph to the
            parameters.
        key (tuple): :func:`_parameter_key` of the parameters it was
            computed from.
    """

    def __init__(self, full: Tensor, key: tuple) -> None:
        self.full = full
        self.leaf = full.detach().requires_grad_(full.requires_grad)
        self.key = key
        self.shared = False

    def share(self, op: 'StepCachedMixin') -> Tensor:
        """The second forward's weight: the view of the kernel that carries
        the first backward's gradient on to the merge's backward. Drops
        the kernel, which the second forward no longer needs.

        Args:
            op (StepCachedMixin): The op, in the second forward's mode.

        Returns:
            Tensor: The mode's weight.
        """
        if self.leaf.requires_grad and self.leaf.grad is None:
            raise RuntimeError(_ORDER_ERROR)
        weight = _SharedView.apply(self.full, self.leaf, op)
        self.full = self.leaf = None
        self.shared = True
        return weight

    def check_consumed(self) -> None:
        """Raises if a gradient on the detached kernel was never passed on
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
    """The current mode's view of the step's merged kernel; its backward
    adds the gradient earlier backward passes left on the detached kernel,
    so that the merge's backward runs once for the whole step."""

    @staticmethod
    def forward(ctx, full: Tensor, leaf: Tensor,
                op: StepCachedMixin) -> Tensor:
        ctx.op, ctx.student = op, op.is_student
        ctx.full_shape = full.shape
        ctx.earlier, leaf.grad = leaf.grad, None
        weight = op.view(leaf.detach())
        if weight.data_ptr() == leaf.data_ptr():
            weight = weight.clone()
        return weight

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tuple[Optional[Tensor], None, None]:
        full_grad = ctx.earlier
        ctx.earlier = None
        if full_grad is None:
            full_grad = grad.new_zeros(ctx.full_shape)
        ctx.op.add_view_grad(full_grad, grad, ctx.student)
        return full_grad, None, None


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
