"""Multi-branch 3x3 convolution for Channel-Branch Reparameterization.

Guo et al., GPD (ICLR 2025), Sec. 3.3: the student is expanded along the
channel AND the branch dimension; during training each 3x3 / stride-1 /
padding-1 convolution is an OREPA-style block (Hu et al., "Online
Convolutional Re-parameterization", CVPR 2022) whose branches are linear
in their weights, so one merged kernel is computed per forward and the
block collapses into a plain convolution at export (Sec. 3.3).

This implementation keeps three of the reference's six branches, each with
a per-output-channel scale ``branch_scale[b]``:

* ``weight`` (``[O, I/G, 3, 3]``): the original kernel; keeps the
  original parameter name so the merged kernel is exported under it;
* ``weight_1x1`` (``[O, I/G, 1, 1]``): a 1x1 convolution (centre tap);
* ``weight_avg`` (``[O, I/G, 1, 1]``): a 1x1 convolution followed by 3x3
  average pooling (kernel ``W / 9`` on every tap).

Why fewer branches: the merged kernel spans the same space with any subset
containing the 3x3 branch; the dropped prior (DCT), 1x1-then-3x3 and
depthwise-separable branches mostly add merging cost (the 1x1-then-3x3
branch alone is ``O I^2 9`` MACs per merge, the bulk of the reference's
33 GMAC per ResNet-18 DT iteration) and parameters (the reference store
grows 3.7x on ResNet-18). The branches carry no bias: the block has a bias
only if the original conv had one, so the merge is exact and nothing has
to be folded into the next BN.

Initialisation: ``'pretrained'`` sets ``branch_scale = (1, 0, 0)`` so the
block equals the original conv exactly (reference ``single_init``);
``'scratch'`` uses ``(0.25, 0.5, 0.25)``, the reference's default scales of
its origin, 1x1-based and average branches. Extra branch weights get
``nn.Conv2d``'s default initialisation in both cases.
"""
import math
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

BRANCH_INITS = {'pretrained': (1.0, 0.0, 0.0), 'scratch': (0.25, 0.5, 0.25)}


def merge_kernels(weight: Tensor,
                  weight_1x1: Tensor,
                  weight_avg: Tensor,
                  branch_scale: Tensor,
                  out: Optional[Tensor] = None) -> Tensor:
    """:func:`merge_branch_kernels` without autograd (one pass over the
    ``[O, I, 3, 3]`` kernel).

    Args:
        weight (Tensor): ``[O, I, 3, 3]`` kernel of the 3x3 branch.
        weight_1x1 (Tensor): ``[O, I, 1, 1]`` kernel of the 1x1 branch.
        weight_avg (Tensor): ``[O, I, 1, 1]`` kernel of the
            1x1-then-average branch.
        branch_scale (Tensor): ``[3, O]`` per-channel branch scales.
        out (Tensor, optional): A contiguous ``[O, I, 3, 3]`` tensor to
            write the kernel into; a new one by default.

    Returns:
        Tensor: ``[O, I, 3, 3]`` (``out`` when given).
    """
    scale = branch_scale.view(3, -1, 1, 1, 1)
    kernel = torch.addcmul(
        scale[2] * weight_avg / 9, scale[0], weight, out=out)
    kernel[:, :, 1:2, 1:2] += scale[1] * weight_1x1
    return kernel


def _row_dots(a: Tensor, b: Tensor) -> Tensor:
    """``(a * b).sum(1)`` of two ``[O, K]`` matrices without an ``[O, K]``
    temporary: the diagonals of ``4 x 4`` blocks of ``a b^T`` (a batched
    matrix product of 1-row blocks falls back to a path about five times
    slower on the CPU)."""
    rows = a.shape[0]
    block = 4 if rows % 4 == 0 else 1
    products = torch.bmm(
        a.reshape(rows // block, block, -1),
        b.reshape(rows // block, block, -1).transpose(1, 2))
    return products.diagonal(dim1=1, dim2=2).reshape(rows)


def merge_backward(grad: Tensor,
                   weight: Tensor,
                   weight_1x1: Tensor,
                   weight_avg: Tensor,
                   branch_scale: Tensor,
                   needs: Tuple[bool, ...] = (True, ) * 4,
                   in_place: bool = False) -> Tuple[Optional[Tensor], ...]:
    """Gradients of :func:`merge_branch_kernels`' inputs.

    Reads the kernel gradient three times (the per-tap sum, the
    per-channel dot product with ``weight`` and the 3x3 branch's gradient)
    and writes one kernel-sized tensor, or none with ``in_place``.

    Args:
        grad (Tensor): Gradient of the merged ``[O, I, 3, 3]`` kernel.
        weight (Tensor): The 3x3 branch's kernel.
        weight_1x1 (Tensor): The 1x1 branch's kernel.
        weight_avg (Tensor): The 1x1-then-average branch's kernel.
        branch_scale (Tensor): ``[3, O]`` per-channel branch scales.
        needs (tuple[bool]): Which of the four gradients to compute.
        in_place (bool): Whether the 3x3 branch's gradient may overwrite
            ``grad`` (only for a gradient the caller owns).

    Returns:
        tuple: Gradients of ``weight``, ``weight_1x1``, ``weight_avg`` and
        ``branch_scale`` (``None`` where not needed).
    """
    scale = branch_scale.view(3, -1, 1, 1, 1)
    if not grad.is_contiguous():
        grad = grad.contiguous()
    out_c, in_c = grad.shape[:2]
    centre = grad[:, :, 1:2, 1:2]
    taps = torch.mv(grad.view(-1, 9), grad.new_ones(9)).view(
        out_c, in_c, 1, 1)
    grad_1x1 = centre * scale[1] if needs[1] else None
    grad_avg = taps * (scale[2] / 9) if needs[2] else None
    grad_scale = None
    if needs[3]:
        grad_scale = torch.stack([
            _row_dots(grad.view(out_c, -1), weight.reshape(out_c, -1)),
            _row_dots(centre.reshape(out_c, -1), weight_1x1.view(out_c, -1)),
            _row_dots(taps.view(out_c, -1), weight_avg.view(out_c, -1)) / 9
        ])
    grad_weight = None
    if needs[0]:
        grad_weight = grad.mul_(scale[0]) if in_place else grad * scale[0]
    return grad_weight, grad_1x1, grad_avg, grad_scale


class _MergeBranchKernels(torch.autograd.Function):
    """The merge of :func:`merge_branch_kernels` with a hand-written
    backward (:func:`merge_backward`; autograd's graph of the same formula
    takes about fifteen passes over the kernel, which dominated a GPD step
    at small inputs; docs/benchmarks.md)."""

    @staticmethod
    def forward(ctx, weight: Tensor, weight_1x1: Tensor, weight_avg: Tensor,
                branch_scale: Tensor) -> Tensor:
        ctx.save_for_backward(weight, weight_1x1, weight_avg, branch_scale)
        return merge_kernels(weight, weight_1x1, weight_avg, branch_scale)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tuple[Optional[Tensor], ...]:
        return merge_backward(grad, *ctx.saved_tensors,
                              needs=ctx.needs_input_grad)


def merge_branch_kernels(weight: Tensor, weight_1x1: Tensor,
                         weight_avg: Tensor, branch_scale: Tensor) -> Tensor:
    """The 3x3 kernel equivalent to the three scaled branches.

    ``branch_scale[0] * weight + branch_scale[2] * weight_avg / 9`` on every
    tap, plus ``branch_scale[1] * weight_1x1`` on the centre tap.

    Args:
        weight (Tensor): ``[O, I, 3, 3]`` kernel of the 3x3 branch.
        weight_1x1 (Tensor): ``[O, I, 1, 1]`` kernel of the 1x1 branch.
        weight_avg (Tensor): ``[O, I, 1, 1]`` kernel of the 1x1-then-average
            branch.
        branch_scale (Tensor): ``[3, O]`` per-channel branch scales.

    Returns:
        Tensor: ``[O, I, 3, 3]``.
    """
    return _MergeBranchKernels.apply(weight, weight_1x1, weight_avg,
                                     branch_scale)


def is_branch_eligible(conv: nn.Module) -> bool:
    """Whether ``conv`` is a plain 3x3 / stride-1 / padding-1 ``Conv2d``."""
    return (type(conv).__name__ == 'Conv2d' and isinstance(conv, nn.Conv2d)
            and conv.kernel_size == (3, 3) and conv.stride == (1, 1)
            and conv.padding == (1, 1) and conv.dilation == (1, 1)
            and conv.padding_mode == 'zeros')


class MultiBranchConv2d(nn.Module):
    """A 3x3 convolution trained as three parallel, mergeable branches.

    Example:
        >>> conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        >>> block = MultiBranchConv2d(conv, 'pretrained')
        >>> x = torch.rand(1, 8, 5, 5)
        >>> torch.allclose(block(x), conv(x))
        True

    Args:
        conv (nn.Conv2d): The convolution to replace (see
            :func:`is_branch_eligible`); its kernel initialises ``weight``.
        init (str): ``'pretrained'`` or ``'scratch'`` (see the module
            docstring).
    """

    def __init__(self, conv: nn.Conv2d, init: str) -> None:
        super().__init__()
        if init not in BRANCH_INITS:
            raise ValueError(f'multi-branch init must be one of '
                             f'{sorted(BRANCH_INITS)}, got {init!r}')
        out_c, in_per_group = conv.weight.shape[:2]
        self.in_channels = conv.in_channels
        self.out_channels = conv.out_channels
        self.groups = conv.groups
        self.kernel_size, self.stride = (3, 3), (1, 1)
        self.padding, self.dilation = (1, 1), (1, 1)
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.weight_1x1 = nn.Parameter(torch.empty(out_c, in_per_group, 1, 1))
        self.weight_avg = nn.Parameter(torch.empty(out_c, in_per_group, 1, 1))
        for param in (self.weight_1x1, self.weight_avg):
            nn.init.kaiming_uniform_(param, a=math.sqrt(5))
        scale = torch.tensor(BRANCH_INITS[init]).view(3, 1)
        self.branch_scale = nn.Parameter(scale.repeat(1, out_c))
        self.bias = None if conv.bias is None else nn.Parameter(
            conv.bias.detach().clone())

    def merged_kernel(self) -> Tensor:
        """The equivalent ``[O, I/G, 3, 3]`` kernel."""
        return merge_branch_kernels(self.weight, self.weight_1x1,
                                    self.weight_avg, self.branch_scale)

    def forward(self, x: Tensor) -> Tensor:
        """One convolution with the merged kernel (online merging)."""
        return F.conv2d(x, self.merged_kernel(), self.bias, 1, 1, 1,
                        self.groups)

    def to_conv(self) -> nn.Conv2d:
        """The merged plain ``Conv2d`` (exact)."""
        conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            3,
            padding=1,
            groups=self.groups,
            bias=self.bias is not None)
        with torch.no_grad():
            conv.weight.copy_(self.merged_kernel())
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv


def convert_to_multi_branch(
        model: nn.Module,
        init: str,
        include: Optional[Callable[[str], bool]] = None) -> int:
    """Replaces eligible convolutions of ``model`` by multi-branch blocks.

    Args:
        model (nn.Module): Network, modified in place.
        init (str): ``'pretrained'`` or ``'scratch'``.
        include (callable, optional): ``name -> bool`` filter on module
            names (e.g. the GPD scope); all modules by default.

    Returns:
        int: Number of converted convolutions.
    """
    targets = [
        (name, module) for name, module in model.named_modules()
        if is_branch_eligible(module) and (include is None or include(name))
    ]
    for name, conv in targets:
        replace_module(model, name, MultiBranchConv2d(conv, init))
    return len(targets)


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Sets the submodule at dotted path ``name`` of ``model`` to ``new``."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
