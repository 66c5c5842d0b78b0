"""A frozen network's forward with its eval-mode BN layers folded into the
convolutions that feed them."""
import logging
import weakref
from collections import Counter
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Tuple

import torch
from mmengine.dist import all_reduce
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torch.utils._pytree import tree_flatten

# The largest difference folding may make to a network's outputs, relative
# to their largest magnitude (at least 1); float32 rounding makes 2e-6 on
# a ResNet-34's logits.
FOLD_TOLERANCE = 1e-4

# (parent module, child name, child): where a module is swapped.
Slot = Tuple[nn.Module, str, nn.Module]


class BatchNormFolding:
    """Runs a frozen network with each eval-mode BN folded into the
    convolution whose output it normalises: ``bn(conv(x))`` becomes one
    convolution of weight ``W * g / sqrt(v + eps)`` and bias
    ``(b - m) * g / sqrt(v + eps) + beta`` (inference folding, computed by
    :func:`torch.nn.utils.fusion.fuse_conv_bn_eval`), so the forward skips
    one pass over every normalised map.

    The network is never changed outside :meth:`folded`: inside it, each
    folded convolution is swapped for its folded copy and its BN for
    ``nn.Identity``, and both are put back on exit, so the parameters,
    ``state_dict``, checkpoints and validation see the network as built.
    The copies cost the folded convolutions' weights in memory.

    A pair is folded only as the forward shows it (a probe forward with
    hooks): the BN, in eval mode with running statistics, is called once,
    on exactly the tensor that an ``nn.Conv2d`` called once returned (not
    changed in place since), and neither module has hooks of its own (a
    distiller's recorder there would record other values). The folded
    forward is then compared with the probe's in float32; if they differ
    by more than :data:`FOLD_TOLERANCE` (a convolution whose output is
    also used elsewhere, a convolution subclass that transforms its
    weight), every rank runs the network unfolded, with a warning. The
    folds are rebuilt when a folded tensor changes (a checkpoint loaded, a
    device move) or a folded BN leaves eval mode; a network with nothing
    to fold, or whose folds failed the comparison, stays unfolded.

    Example:
        >>> folding = BatchNormFolding(teacher, 'teacher')
        >>> forward = lambda: teacher(inputs, mode='tensor')
        >>> with torch.no_grad(), folding.folded(forward):
        ...     logits = forward()

    Args:
        network (nn.Module): The frozen network.
        name (str): Its name in the warning (e.g. the peer name).
    """

    def __init__(self, network: nn.Module, name: str) -> None:
        self.network = network
        self.name = name
        self._folds: List[Tuple[Slot, Slot, nn.Module]] = []
        self._key = None
        self._identity = nn.Identity()  # stands in for every folded BN

    @property
    def num_folded(self) -> int:
        """How many BN layers the folded forward skips."""
        return len(self._folds)

    @contextmanager
    def folded(self, forward: Callable[[], Any]) -> Iterator[None]:
        """Folds the network's BN layers inside the block.

        When the folds are (re)built, ``forward``, the forward of the
        block without its side effects (e.g. outside a recording), runs
        twice before the block, unfolded and folded, to find and check
        the pairs; call this on every rank alike.

        Args:
            forward (callable): Runs the network on the block's input.
        """
        if self._key != self._current_key():
            self._build(forward)
        with self._swapped():
            yield

    @contextmanager
    def _swapped(self) -> Iterator[None]:
        """The folded convolutions and identities in place of the pairs."""
        for (conv_parent, conv_name, _), (bn_parent, bn_name, _), \
                fused in self._folds:
            conv_parent._modules[conv_name] = fused
            bn_parent._modules[bn_name] = self._identity
        try:
            yield
        finally:
            for (conv_parent, conv_name, conv), (bn_parent, bn_name, bn), \
                    _ in self._folds:
                conv_parent._modules[conv_name] = conv
                bn_parent._modules[bn_name] = bn

    def _current_key(self) -> tuple:
        """What the folds depend on: the folded BN layers' modes, and the
        storage and version of every folded tensor."""
        key: list = [len(self._folds)]
        for (_, _, conv), (_, _, bn), _ in self._folds:
            key.append(bn.training)
            for tensor in (conv.weight, conv.bias, bn.weight, bn.bias,
                           bn.running_mean, bn.running_var):
                if tensor is not None:
                    key.append((tensor.data_ptr(), tensor._version))
        return tuple(key)

    def _build(self, forward: Callable[[], Any]) -> None:
        """Finds the pairs with a probe forward, folds them, and keeps the
        folds only if the folded forward agrees with the probe's."""
        self._folds = []
        device = _device_of(self.network)
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            pairs, reference = self._probe(forward)
            self._folds = [(conv, bn, fuse_conv_bn_eval(conv[2], bn[2]))
                           for conv, bn in pairs]
            if self._folds:
                with self._swapped():
                    output = forward()
                agrees = torch.tensor(int(_close(output, reference)),
                                      device=device)
                all_reduce(agrees, op='min')  # every rank folds alike
                if not bool(agrees):
                    print_log(
                        f'{self.name}: its forward with BN folded into the '
                        'convolutions differs from its forward without; it '
                        'runs unfolded.', logger='current',
                        level=logging.WARNING)
                    self._folds = []
        self._key = self._current_key()

    def _probe(self, forward: Callable[[], Any]
               ) -> Tuple[List[Tuple[Slot, Slot]], Any]:
        """Runs ``forward`` with hooks on the convolutions and BN layers
        and returns the foldable pairs and the forward's output."""
        slots = _slots(self.network)
        calls: Counter = Counter()
        produced: Dict[int, Tuple[weakref.ref, int, int]] = {}
        consumed: Dict[int, int] = {}

        def conv_hook(module: nn.Module, args: tuple, output: Any) -> None:
            calls[id(module)] += 1
            if isinstance(output, Tensor):
                produced[id(output)] = (weakref.ref(output), output._version,
                                        id(module))

        def bn_hook(module: nn.Module, args: tuple, output: Any) -> None:
            calls[id(module)] += 1
            entry = produced.get(id(args[0])) if args else None
            if entry is not None and entry[0]() is args[0] and \
                    entry[1] == args[0]._version:  # not changed in place
                consumed[id(module)] = entry[2]

        handles = [
            module.register_forward_hook(
                conv_hook if isinstance(module, nn.Conv2d) else bn_hook)
            for _, _, module in slots.values()
        ]
        try:
            reference = forward()
        finally:
            for handle in handles:
                handle.remove()
        pairs = [(slots[conv], slots[bn]) for bn, conv in consumed.items()
                 if calls[bn] == 1 and calls[conv] == 1
                 and _foldable(slots[conv][2], slots[bn][2])]
        return pairs, reference


def _slots(network: nn.Module) -> Dict[int, Slot]:
    """``{id(module): slot}`` of every ``nn.Conv2d`` and BN layer of
    ``network`` without hooks of its own."""
    slots = {}
    for parent in network.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, (nn.Conv2d, _BatchNorm)) and not (
                    child._forward_hooks or child._forward_pre_hooks):
                slots[id(child)] = (parent, child_name, child)
    return slots


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    """Whether ``bn`` normalises ``conv``'s output with fixed statistics
    (both in eval mode)."""
    return not (conv.training or bn.training) and \
        bn.running_mean is not None and bn.running_var is not None


def _close(output: Any, reference: Any) -> bool:
    """Whether the tensors of two outputs agree to :data:`FOLD_TOLERANCE`
    of the reference's largest magnitude (at least 1)."""
    got, got_spec = tree_flatten(output)
    want, want_spec = tree_flatten(reference)
    if got_spec != want_spec:
        return False
    for a, b in zip(got, want):
        if not isinstance(b, Tensor):
            continue
        if a.shape != b.shape:
            return False
        if not b.is_floating_point() or b.numel() == 0:
            if not torch.equal(a, b):
                return False
            continue
        scale = b.abs().max().float().clamp(min=1.0)
        if not bool((a.float() - b.float()).abs().max() <=
                    FOLD_TOLERANCE * scale):
            return False
    return True


def _device_of(network: nn.Module) -> torch.device:
    """The device of ``network``'s first parameter (the CPU if none)."""
    for tensor in network.parameters():
        return tensor.device
    return torch.device('cpu')
