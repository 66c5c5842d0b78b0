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


class _MergeBranchKernels(torch.autograd.Function):
    """The merge of :func:`merge_branch_kernels` with a hand-written
    backward: one pass over the ``[O, I, 3, 3]`` kernel forward and three
    backward (autograd's graph of the same formula takes about fifteen,
    which dominated a GPD step at small inputs; docs/benchmarks.md)."""

    @staticmethod
    def forward(ctx, weight: Tensor, weight_1x1: Tensor, weight_avg: Tensor,
                branch_scale: Tensor) -> Tensor:
        ctx.save_for_backward(weight, weight_1x1, weight_avg, branch_scale)
        scale = branch_scale.view(3, -1, 1, 1, 1)
        kernel = torch.addcmul(scale[2] * weight_avg / 9, scale[0], weight)
        kernel[:, :, 1:2, 1:2] += scale[1] * weight_1x1
        return kernel

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tuple[Optional[Tensor], ...]:
        weight, weight_1x1, weight_avg, branch_scale = ctx.saved_tensors
        needs = ctx.needs_input_grad
        scale = branch_scale.view(3, -1, 1, 1, 1)
        grad = grad.contiguous()
        out_c = grad.shape[0]
        centre = grad[:, :, 1:2, 1:2]
        taps = grad.sum((2, 3), keepdim=True)
        grad_weight = grad * scale[0] if needs[0] else None
        grad_1x1 = centre * scale[1] if needs[1] else None
        grad_avg = taps * (scale[2] / 9) if needs[2] else None
        grad_scale = None
        if needs[3]:
            # Per-channel dot products without a kernel-sized temporary.
            dot = torch.bmm(
                grad.view(out_c, 1, -1),
                weight.reshape(out_c, -1, 1)).view(out_c)
            grad_scale = torch.stack([
                dot, (centre * weight_1x1).sum((1, 2, 3)),
                (taps * weight_avg).sum((1, 2, 3)) / 9
            ])
        return grad_weight, grad_1x1, grad_avg, grad_scale


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
