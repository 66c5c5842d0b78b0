"""mmengine's EMA for algorithms whose children are DDP-wrapped."""
from contextlib import contextmanager
from typing import Iterator, Optional

from mmengine.model import ExponentialMovingAverage, is_model_wrapper
from torch import nn

from mmokd.registry import MODELS


@contextmanager
def unwrapped_children(model: nn.Module) -> Iterator[nn.Module]:
    """Temporarily replaces every DDP-wrapped child of ``model`` by the
    module it wraps (as ``MMSeparateDistributedDataParallel`` leaves them).

    Args:
        model (nn.Module): An mmokd algorithm.

    Yields:
        nn.Module: ``model``, with plain children inside the block.
    """
    wrapped = {
        name: child
        for name, child in model._modules.items() if is_model_wrapper(child)
    }
    for name, child in wrapped.items():
        model._modules[name] = child.module
    try:
        yield model
    finally:
        model._modules.update(wrapped)


@MODELS.register_module()
class UnwrappedExponentialMovingAverage(ExponentialMovingAverage):
    """``mmengine.model.ExponentialMovingAverage`` that also works when the
    averaged algorithm's children are wrapped one by one for distributed
    training (``MMSeparateDistributedDataParallel``, which every mmokd
    config uses): the copy is made, and the parameters are read, with the
    wrappers taken off, so the average holds the plain modules under the
    algorithm's own (wrapper-free) state-dict keys. Without wrappers it is
    mmengine's EMA.

    The GPD authors keep an EMA of the whole parameter store, buffers
    included, with decay 0.99996 per iteration (Guo et al., ICLR 2025,
    reference code), i.e. mmengine ``momentum=4e-5``.

    Config example::

        custom_hooks = [
            dict(type='EMAHook',
                 ema_type='mmokd.UnwrappedExponentialMovingAverage',
                 momentum=4e-5, update_buffers=True)]

    Args:
        model (nn.Module): The algorithm to average.
        momentum (float): mmengine's EMA momentum (1 - decay).
        interval (int): Update every ``interval`` steps.
        device (torch.device, optional): Where the average lives.
        update_buffers (bool): Average the buffers too.
    """

    def __init__(self,
                 model: nn.Module,
                 momentum: float = 0.0002,
                 interval: int = 1,
                 device: Optional[str] = None,
                 update_buffers: bool = False) -> None:
        with unwrapped_children(model):
            super().__init__(model, momentum, interval, device,
                             update_buffers)

    def update_parameters(self, model: nn.Module) -> None:
        """Averages ``model``'s current weights into the copy.

        Args:
            model (nn.Module): The algorithm, possibly with wrapped
                children.
        """
        with unwrapped_children(model):
            super().update_parameters(model)
