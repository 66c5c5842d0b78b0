"""GPD convolution: the student and the dynamic teacher share one kernel.

Guo et al., GPD (ICLR 2025), Sec. 3.2:
dense convolutions read ``r * P[:O, :I]`` as the student and the full ``P``
as the dynamic teacher (DT); grouped / depthwise convolutions have ``r``
times the groups in the DT, read ``P[:O]`` without a factor as the student
and compute ``conv(r x, P) / r`` as the DT so that the ``1/r``-scaled DT
activation stays exact. Strides, paddings and dilations are unchanged.
The DT's dense convolutions with few output positions run as one GEMM
(:mod:`.gemm_conv`).
"""
from typing import List, Optional, Tuple, Union
from weakref import WeakKeyDictionary

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .gemm_conv import gemm_conv2d, use_gemm
from .layout import Layout, tile
from .multi_branch_conv import (MultiBranchConv2d, merge_backward,
                                merge_branch_kernels, merge_kernels)
from .weighted_op import GPDWeightedOp


class GPDConv2d(GPDWeightedOp):
    """A ``Conv2d`` whose parameters are the DT-sized store.

    Args:
        conv (nn.Conv2d | MultiBranchConv2d): The student's convolution
            (``padding_mode`` ``'zeros'``); its weights are expanded by
            Inverse Reparameterization.
        ratio (int): Expansion ratio ``r``.
        in_layout (Layout): Layout of the input (:mod:`.layout`).
        out_expanded (bool): Whether the output is widened.
    """

    def __init__(self, conv: Union[nn.Conv2d, MultiBranchConv2d], ratio: int,
                 in_layout: Layout, out_expanded: bool) -> None:
        super().__init__(conv.weight, conv.bias, ratio, in_layout,
                         out_expanded, conv.groups)
        self.kernel_size = conv.kernel_size
        self.stride = conv.stride
        self.padding = conv.padding
        self.dilation = conv.dilation

    def conv(self, x: Tensor, weight: Tensor,
             bias: Optional[Tensor]) -> Tensor:
        """Convolves ``x`` with the mode's weight, groups and scaling;
        the DT's dense weight-bound convolutions as one GEMM
        (:mod:`.gemm_conv`)."""
        if self.grouped and not self.is_student:
            out = F.conv2d(x * self.ratio, weight, bias, self.stride,
                           self.padding, self.dilation,
                           self.groups * self.ratio)
            return out / self.ratio
        if not self.is_student and not self.grouped and use_gemm(
                x, self.kernel_size, self.stride, self.padding,
                self.dilation):
            return gemm_conv2d(x, weight, bias, self.stride, self.padding,
                               self.dilation)
        return F.conv2d(x, weight, bias, self.stride, self.padding,
                        self.dilation, self.groups)

    def forward(self, x: Tensor) -> Tensor:
        """Runs the student's or the DT's convolution (see the mode)."""
        bias = None if self.bias is None else self.view(self.bias)
        return self.conv(x, self.current_weight(), bias)


#: The merged DT kernel of each :class:`GPDMultiBranchConv2d` in training,
#: reused from step to step; kept outside the module's state, so it is
#: not saved, copied (EMA) or moved with the module.
_MERGED_KERNELS: 'WeakKeyDictionary[GPDMultiBranchConv2d, Tensor]' = \
    WeakKeyDictionary()


class GPDMultiBranchConv2d(GPDConv2d):
    """A :class:`~.multi_branch_conv.MultiBranchConv2d` expanded for GPD.

    Every branch kernel is expanded and sliced like a convolution weight
    (OREPA, Hu et al., CVPR 2022); ``branch_scale`` is tiled
    along its channel dim without division and sliced without a factor.
    The merged kernel of the slices is the student's kernel, the merged
    kernel of the full store is the DT's.

    Args:
        block (MultiBranchConv2d): The student's multi-branch block.
        ratio (int): Expansion ratio ``r``.
        in_layout (Layout): Layout of the input.
        out_expanded (bool): Whether the output is widened.
    """

    def __init__(self, block: MultiBranchConv2d, ratio: int, in_layout: Layout,
                 out_expanded: bool) -> None:
        super().__init__(block, ratio, in_layout, out_expanded)
        self.weight_1x1 = nn.Parameter(self.expand(block.weight_1x1.detach()))
        self.weight_avg = nn.Parameter(self.expand(block.weight_avg.detach()))
        copies = ratio if out_expanded else 1
        self.branch_scale = nn.Parameter(
            tile(block.branch_scale.detach(), copies, 1))

    def uncached_weight(self) -> Tensor:
        """The merged kernel of the current mode's branch views."""
        scale = self.branch_scale
        if self.is_student and self.out_expanded:
            scale = scale[:, :self.out_channels]
        return merge_branch_kernels(
            self.view(self.weight), self.view(self.weight_1x1),
            self.view(self.weight_avg), scale)

    def cached_parameters(self) -> List[Tensor]:
        """The branch parameters the merged kernel is computed from."""
        return [
            self.weight, self.weight_1x1, self.weight_avg, self.branch_scale
        ]

    def full_weight(self) -> Tensor:
        """The merged kernel of the whole store (the DT's kernel, of which
        the student's is the view), without autograd.

        Written into a kernel-sized buffer kept from step to step
        (:data:`_MERGED_KERNELS`): a new kernel per step page-faults in
        every step where it is above glibc's 32 MiB ceiling for reusing
        freed memory (a DT layer-4 kernel of ResNet-18 is 37.7 MB), about
        40 % of the merge's time on one CPU thread. Writing the buffer
        bumps its version counter, so a graph still holding the previous
        step's kernel fails at its backward instead of using new values.
        """
        weight = self.weight
        buffer = _MERGED_KERNELS.get(self)
        if buffer is None or (buffer.shape, buffer.dtype, buffer.device) != (
                weight.shape, weight.dtype, weight.device):
            buffer = torch.empty(
                weight.shape, dtype=weight.dtype, device=weight.device)
            _MERGED_KERNELS[self] = buffer
        return merge_kernels(*self.cached_parameters(), out=buffer)

    def full_weight_backward(self, grad: Tensor,
                             needs: Tuple[bool, ...]) -> Tuple[Tensor, ...]:
        """The merge's backward, the 3x3 branch's gradient written into
        ``grad``."""
        return merge_backward(
            grad, *self.cached_parameters(), needs=needs, in_place=True)
