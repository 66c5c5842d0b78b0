"""Shared weight store of a GPD conv / linear op (hard parameter sharing).

Guo et al., GPD (ICLR 2025), Sec. 3.2:
the op stores the dynamic teacher's (DT's) weight ``P``; the student reads
a scaled prefix slice of it. With ``r`` the ratio, ``O`` / ``I`` the
student's output / input channels:

============================  ===========================  ================
op                            student view                 DT forward
============================  ===========================  ================
dense, out-expanded           ``r * P[:O, cols]``          ``P``
dense, only in-expanded       ``P[:, cols]`` (classifier)  ``P``
grouped / depthwise           ``P[:O]`` (no factor)        ``f(r x) / r``,
                                                           groups ``x r``
bias                          as its weight's rows         as its weight
============================  ===========================  ================

``cols`` is ``:I`` for a widened input, an index list for a concatenation of
widened and plain tensors (see :mod:`.layout`) and all columns for a plain
input. The factor ``r`` makes the student's gradient on its slice ``r``
times that of the plain student for dense weights, 1 otherwise (reference
Sec. 1.5).
"""
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from .layout import (Layout, expand_dense_weight, is_prefix, student_columns,
                     tile)
from .step_cache import StepCachedMixin


class GPDWeightedOp(StepCachedMixin, nn.Module):
    """Base of :class:`GPDConv2d` and :class:`GPDLinear`.

    Inside :func:`~.step_cache.step_weight_cache` the weight's gradient of
    both modes is accumulated in one DT-sized buffer (the student's view
    adds its gradient into the DT's), instead of a zero-filled DT-sized
    gradient of the student's slice added to the DT's.

    Args:
        weight (Tensor): The student's weight ``[O, I / groups, ...]``.
        bias (Tensor, optional): The student's bias ``[O]``.
        ratio (int): Expansion ratio ``r``.
        in_layout (Layout): Layout of the op's input (:mod:`.layout`).
        out_expanded (bool): Whether the op's output is widened.
        groups (int): The student's groups (1 for linear).
    """

    def __init__(self,
                 weight: Tensor,
                 bias: Optional[Tensor],
                 ratio: int,
                 in_layout: Layout,
                 out_expanded: bool,
                 groups: int = 1) -> None:
        super().__init__()
        if groups > 1 and not (is_prefix(in_layout) and out_expanded):
            raise ValueError('a grouped conv must have a widened input and '
                             'a widened output')
        self.ratio = ratio
        self.in_layout = in_layout
        self.out_expanded = out_expanded
        self.groups = groups
        self.out_channels = weight.shape[0]
        self.in_channels = weight.shape[1] * groups
        if in_layout is not None and not is_prefix(in_layout):
            self.register_buffer(
                'student_index',
                student_columns(in_layout, ratio),
                persistent=False)
        else:
            self.student_index = None
        self.weight = nn.Parameter(self.expand(weight.detach()))
        self.bias = None if bias is None else nn.Parameter(
            self.expand(bias.detach()))

    @property
    def grouped(self) -> bool:
        """Whether the op is a grouped (e.g. depthwise) convolution."""
        return self.groups > 1

    def expand(self, tensor: Tensor) -> Tensor:
        """Inverse Reparameterization of one student tensor (noise-free).

        Args:
            tensor (Tensor): Student weight ``[O, I, ...]`` or bias ``[O]``.

        Returns:
            Tensor: The DT-sized tensor.
        """
        if self.grouped:
            return tile(tensor, self.ratio, 0)
        if tensor.dim() == 1:
            return tile(tensor / self.ratio, self.ratio,
                        0) if self.out_expanded else tensor.clone()
        return expand_dense_weight(tensor, self.ratio, self.in_layout,
                                   self.out_expanded)

    def view(self, stored: Tensor) -> Tensor:
        """The tensor the current mode computes with.

        Args:
            stored (Tensor): A DT-sized weight ``[O_D, I_D, ...]`` or bias.

        Returns:
            Tensor: ``stored`` in DT mode, the student's (scaled) slice in
            student mode.
        """
        if not self.is_student:
            return stored
        if self.out_expanded:
            stored = stored[:self.out_channels]
        if stored.dim() > 1 and not self.grouped:
            if self.student_index is not None:
                stored = stored.index_select(1, self.student_index)
            elif self.in_layout is not None:
                stored = stored[:, :self.in_channels]
        if self.out_expanded and not self.grouped:
            stored = stored * self.ratio
        return stored

    def add_view_grad(self, target: Tensor, grad: Tensor,
                      student: bool) -> None:
        """Adds the gradient of a :meth:`view` to that of the stored tensor.

        Args:
            target (Tensor): Gradient of the DT-sized tensor, updated in
                place.
            grad (Tensor): Gradient of the view.
            student (bool): Whether the view was the student's (otherwise
                the DT's, the whole tensor).
        """
        if not student:
            target.add_(grad)
            return
        factor = self.ratio if self.out_expanded and not self.grouped else 1
        if self.out_expanded:
            target = target[:self.out_channels]
        if target.dim() > 1 and not self.grouped:
            if self.student_index is not None:
                target.index_add_(1, self.student_index, grad, alpha=factor)
                return
            if self.in_layout is not None:
                target = target[:, :self.in_channels]
        target.add_(grad, alpha=factor)

    @torch.no_grad()
    def add_ir_noise(self, std: float) -> None:
        """Adds ``N(0, std^2)`` to every tensor IR tiled (weights; biases and
        branch scales of widened outputs), like the reference's per-copy
        noise that breaks the symmetry between the DT copies."""
        for name, param in self.named_parameters(recurse=False):
            if name.startswith('weight') or self.out_expanded:
                param.add_(torch.randn_like(param), alpha=std)

    def student_tensors(self) -> Dict[str, Tensor]:
        """The student's weight (and bias) under their original names."""
        mode = self.gpd_mode
        self.gpd_mode = 'student'
        try:
            tensors = {'weight': self.uncached_weight().detach().clone()}
            if self.bias is not None:
                tensors['bias'] = self.view(self.bias).detach().clone()
        finally:
            self.gpd_mode = mode
        return tensors

    def current_weight(self) -> Tensor:
        """The weight the current mode computes with (branch convs merge),
        shared by the step's forwards inside
        :func:`~.step_cache.step_weight_cache`."""
        return self.step_weight()

    def uncached_weight(self) -> Tensor:
        """The current mode's weight, computed in this call."""
        return self.view(self.weight)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'ratio={self.ratio}, in_layout={self.in_layout}, '
                f'out_expanded={self.out_expanded}, groups={self.groups}')
