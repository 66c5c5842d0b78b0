"""Access to modules inside mmengine's model wrappers (DDP)."""
from mmengine.model import is_model_wrapper
from torch import nn


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a (possibly) DDP-wrapped module.

    Args:
        module (nn.Module): A module, or an mmengine model wrapper.

    Returns:
        nn.Module: ``module.module`` for a wrapper, else ``module``.
    """
    return module.module if is_model_wrapper(module) else module
