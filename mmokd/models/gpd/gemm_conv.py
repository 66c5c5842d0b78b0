"""The dynamic teacher's weight-bound convolutions as one matrix product.

Guo et al., GPD (ICLR 2025), Sec. 3.2: the dynamic teacher (DT) convolves
with the whole store, ``r^2`` times the student's weights (4x for
``r = 2``). Where a convolution has few output positions (batch x height
x width: the deep layers of a small input), its cost is the traffic over
its weight, not the arithmetic. oneDNN (PyTorch's CPU convolution)
reorders the weight into its blocked layout in the forward and in both
backward passes and returns the weight's gradient through one more
reorder; each reorder is a fresh weight-sized tensor, and a DT layer-4
kernel of ResNet-18 (``1024 x 1024 x 3 x 3``, 37.7 MB) is above glibc's
32 MiB ceiling for reusing freed memory, so each one also page-faults.

On the CPU such a convolution runs here as im2col and one GEMM over the
whole batch, ``W[O, I k k] @ unfold(x)[I k k, N H W]``: the GEMM reads
the weight in its stored layout, its backward writes the weight's
gradient with one product and reads the weight transposed in place; the
unfolded input is small exactly where this path is taken. The gradients
are autograd's of these ops (``unfold``, ``mm``), the same function as
``F.conv2d`` up to float rounding. Forward and backward on one CPU thread
(one run under a load of about 2, docs/benchmarks.md), GEMM against
oneDNN: 3.3x faster for the DT's ``1024 x 1024`` 3x3 convolution at 8
positions (2 x 2 per image, batch 2), 2.3x for its ``512 x 512`` one at
32, even at 128 (``256 x 256``) and half as fast at 512 (``128 x 128``),
hence :data:`GEMM_MAX_POSITIONS`; every layer at 224x224, batch 8 keeps
oneDNN.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

#: Most output positions (batch x height x width) at which the DT's dense
#: convolutions run as one GEMM (:func:`gemm_conv2d`); above it, oneDNN.
GEMM_MAX_POSITIONS = 64

Pair = Tuple[int, int]


def output_size(x: Tensor, kernel_size: Pair, stride: Pair, padding: Pair,
                dilation: Pair) -> Pair:
    """Height and width of a convolution's output.

    Args:
        x (Tensor): ``[N, C, H, W]`` input.
        kernel_size (tuple[int, int]): Kernel height and width.
        stride (tuple[int, int]): Strides.
        padding (tuple[int, int]): Zero paddings.
        dilation (tuple[int, int]): Dilations.

    Returns:
        tuple[int, int]: ``(H_out, W_out)``.
    """
    return tuple(
        (size + 2 * pad - dil * (k - 1) - 1) // step + 1
        for size, k, step, pad, dil in zip(x.shape[2:], kernel_size, stride,
                                           padding, dilation))


def use_gemm(x: Tensor, kernel_size: Pair, stride: Pair, padding: Pair,
             dilation: Pair) -> bool:
    """Whether a dense convolution of ``x`` is weight-bound on the CPU: at
    most :data:`GEMM_MAX_POSITIONS` output positions over the batch
    (``False`` on other devices, where neither oneDNN nor glibc's
    allocator is involved, and for a padding given as a string, e.g.
    ``'same'``).

    Args:
        x (Tensor): ``[N, C, H, W]`` input.
        kernel_size (tuple[int, int]): Kernel height and width.
        stride (tuple[int, int]): Strides.
        padding (tuple[int, int] | str): Zero paddings.
        dilation (tuple[int, int]): Dilations.

    Returns:
        bool: Whether :func:`gemm_conv2d` should compute it.
    """
    if x.device.type != 'cpu' or isinstance(padding, str):
        return False
    height, width = output_size(x, kernel_size, stride, padding, dilation)
    return x.shape[0] * height * width <= GEMM_MAX_POSITIONS


def gemm_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor],
                stride: Pair, padding: Pair, dilation: Pair) -> Tensor:
    """``F.conv2d(x, weight, bias, stride, padding, dilation)`` (one group,
    zero padding) as one matrix product over the whole batch.

    Args:
        x (Tensor): ``[N, I, H, W]`` input.
        weight (Tensor): ``[O, I, kh, kw]`` kernel.
        bias (Tensor, optional): ``[O]`` bias.
        stride (tuple[int, int]): Strides.
        padding (tuple[int, int]): Zero paddings.
        dilation (tuple[int, int]): Dilations.

    Returns:
        Tensor: ``[N, O, H_out, W_out]``, contiguous.
    """
    batch, out_c = x.shape[0], weight.shape[0]
    kernel_size = tuple(weight.shape[2:])
    height, width = output_size(x, kernel_size, stride, padding, dilation)
    if kernel_size == (1, 1) and stride == (1, 1) and padding == (0, 0):
        columns = x.transpose(0, 1).reshape(x.shape[1], -1)
    else:
        columns = F.unfold(x, kernel_size, dilation, padding, stride)
        columns = columns.transpose(0, 1).reshape(-1, batch * height * width)
    out = torch.mm(weight.reshape(out_c, -1), columns)
    out = out.view(out_c, batch, height, width).transpose(0, 1).contiguous()
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
