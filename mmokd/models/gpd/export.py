"""Extracts the plain student from a GPD store (CBR, DT -> student).

Guo et al., GPD (ICLR 2025), Sec. 3.3.
With hard parameter sharing the trained student is read directly: each GPD
op contributes its student view (scaled prefix slices, the student's BN
running statistics, multi-branch kernels merged into one 3x3 kernel) under
the original parameter names, so the result has the original keys, shapes
and parameter count and loads with ``strict=True`` into the plain model
built from the same config. Multi-branch blocks carry a bias only where
the original convolution had one, so no merged bias is dropped or folded.
"""
from collections import OrderedDict
from typing import Dict

from torch import Tensor, nn

from .batch_norm import GPDBatchNorm2d
from .weighted_op import GPDWeightedOp


def export_student(model: nn.Module) -> 'OrderedDict[str, Tensor]':
    """The plain student's state dict.

    Args:
        model (nn.Module): A network expanded by
            :func:`~.expand.expand_to_dynamic_teacher` (any mode).

    Returns:
        OrderedDict[str, Tensor]: Detached copies with the original keys.
    """
    ops: Dict[str, nn.Module] = {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, (GPDWeightedOp, GPDBatchNorm2d))
    }
    if not ops:
        raise ValueError(f'{type(model).__name__} has no GPD ops; it was '
                         'not expanded to a dynamic teacher.')
    state = OrderedDict()
    exported = set()
    for key, value in model.state_dict().items():
        owner, _, _ = key.rpartition('.')
        if owner not in ops:
            state[key] = value.detach().clone()
        elif owner not in exported:
            exported.add(owner)
            prefix = f'{owner}.' if owner else ''
            for name, tensor in ops[owner].student_tensors().items():
                state[prefix + name] = tensor
    return state
