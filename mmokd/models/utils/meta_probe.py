"""Output shapes of a network's modules from a forward on meta tensors."""
from itertools import chain
from typing import Any, Dict, Sequence, Tuple

import torch
from torch import nn
from torch.func import functional_call


class _Probed(Exception):
    """Ends the probe forward once every wanted output is seen."""


def probe_outputs(network: nn.Module,
                  modules: Sequence[str],
                  size: Tuple[int, int] = (64, 64)) -> Dict[str, Any]:
    """The first outputs of ``network``'s ``modules`` in a ``'tensor'``
    forward of one ``size`` image, computed on the meta device.

    The weights are replaced by meta tensors of their shapes for the call
    (no arithmetic, no memory, the module is left as it was), the network
    runs in eval mode, and the forward stops as soon as every module has
    produced its output. Used to check configured channel counts against
    the network when a model is built.

    Args:
        network (nn.Module): An OpenMMLab model, called as
            ``network(inputs, mode='tensor')``.
        modules (Sequence[str]): Names from ``network.named_modules()``.
        size (tuple[int, int]): Height and width of the probe image.

    Returns:
        dict: ``{module name: output}`` (meta tensors, or tuples of them)
        for the modules the forward reached.

    Raises:
        Exception: Whatever the forward raises on meta tensors (e.g. an op
            without a meta implementation).
    """
    wanted = set(modules)
    outputs: Dict[str, Any] = {}

    def recorder(name: str):

        def record(module: nn.Module, args: tuple, output: Any) -> None:
            outputs.setdefault(name, output)
            if wanted <= outputs.keys():
                raise _Probed

        return record

    handles = [
        network.get_submodule(name).register_forward_hook(recorder(name))
        for name in wanted
    ]
    state = {
        name: torch.empty_like(tensor, device='meta')
        for name, tensor in chain(network.named_parameters(),
                                  network.named_buffers())
    }
    training = network.training
    network.eval()
    try:
        functional_call(network, state,
                        (torch.empty(1, 3, *size, device='meta'), ),
                        dict(mode='tensor'))
    except _Probed:
        pass
    finally:
        network.train(training)
        for handle in handles:
            handle.remove()
    return outputs
