"""Traces which tensors of a network the dynamic teacher widens.

Guo et al., GPD (ICLR 2025), Sec. 3.2: which channels are widened. One
forward of the plain student records, for every module, the channel layout
(:mod:`.layout`) of its input. Layouts start at the modules whose outputs
are widened (given by a callback) and flow through every torch function:
ops that keep the channel count keep the layout, ``torch.cat`` on the
channel dim concatenates layouts, and ops that change the channel count of
a widened tensor (split, chunk, slicing, channel shuffle, reshape) mark it
unsupported, with the op's name for the error message. Parametric modules
overwrite the layout of their output.
"""
from typing import Callable, Dict, List, NamedTuple, Set, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .layout import Layout

#: Layout of a tensor whose channels no longer match the DT's tiling; the
#: string says which op broke it.
Unsupported = str
TensorLayout = Union[Layout, Unsupported]

_CATS = (torch.cat, torch.concat, torch.concatenate)
_MULS = ('mul', 'mul_', '__mul__', '__rmul__', '__imul__', 'multiply')


def _tensors(obj) -> List[Tensor]:
    """All tensors inside nested lists / tuples / dicts."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


def forward_all(model: nn.Module, inputs: Tensor) -> List[Tensor]:
    """Every output tensor of a plain forward, auxiliary heads included.

    mmengine models run with ``mode='tensor'``; for mmseg-style models with
    ``auxiliary_head`` the auxiliary head(s) are run on ``extract_feat`` as
    well, since ``mode='tensor'`` skips them.

    Args:
        model (nn.Module): The network.
        inputs (Tensor): A batch of images.

    Returns:
        list[Tensor]: The output tensors.
    """
    if isinstance(model, BaseModel):
        outputs = _tensors(model(inputs, mode='tensor'))
    else:
        outputs = _tensors(model(inputs))
    aux = getattr(model, 'auxiliary_head', None)
    if aux is not None and hasattr(model, 'extract_feat'):
        feats = model.extract_feat(inputs)
        heads = aux if isinstance(aux, nn.ModuleList) else [aux]
        for head in heads:
            outputs += _tensors(head(feats))
    return outputs


class _LayoutPropagation(TorchFunctionMode):
    """Propagates layouts through every torch function call."""

    def __init__(self) -> None:
        super().__init__()
        self._layouts: Dict[int, tuple] = {}
        #: id -> (output tensor, name, call index) of the parameter-free
        #: leaf modules.
        self.leaf_outputs: Dict[int, tuple] = {}
        #: Leaf modules whose output gates a widened tensor.
        self.multipliers: Set[str] = set()

    def get(self, tensor: Tensor) -> TensorLayout:
        entry = self._layouts.get(id(tensor))
        return entry[1] if entry is not None and entry[0] is tensor else None

    def set(self, tensor: Tensor, layout: TensorLayout) -> None:
        if layout is None:
            self._layouts.pop(id(tensor), None)
        else:
            self._layouts[id(tensor)] = (tensor, layout)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [
            t for t in _tensors((args, kwargs))
            if self.get(t) is not None and t.dim() >= 2
        ]
        if not inputs:
            return out
        if func in _CATS:
            self._cat(args, kwargs, out)
            return out
        name = getattr(func, '__name__', str(func))
        if name in _MULS and len(inputs) == 2:
            self._find_gate(inputs)
        layouts = {repr(self.get(t)) for t in inputs}
        source = inputs[0]
        for tensor in _tensors(out):
            if tensor.dim() < 2:
                continue
            if tensor.shape[1] != source.shape[1]:
                self.set(tensor, f'{name} changes the channel count')
            elif len(layouts) > 1:
                self.set(
                    tensor, f'{name} mixes tensors of different '
                    'channel layouts')
            else:
                self.set(tensor, self.get(source))
        return out

    def _find_gate(self, factors: List[Tensor]) -> None:
        """Records the gate of a product of two widened tensors: the factor
        produced by a parameter-free leaf module that is broadcast (fewer
        elements) or, at equal sizes, the later produced one."""
        candidates = []
        for tensor in factors:
            entry = self.leaf_outputs.get(id(tensor))
            if entry is not None and entry[0] is tensor:
                candidates.append((tensor.numel(), -entry[2], entry[1]))
            else:
                candidates.append((tensor.numel(), 0, None))
        gate = min(candidates, key=lambda c: c[:2])[2]
        if gate is not None:
            self.multipliers.add(gate)

    def _cat(self, args, kwargs, out: Tensor) -> None:
        tensors = args[0] if args else kwargs['tensors']
        dim = args[1] if len(args) > 1 else kwargs.get('dim', 0)
        dim = dim % out.dim()
        layouts = [self.get(t) for t in tensors]
        broken = [lay for lay in layouts if isinstance(lay, str)]
        if broken:
            self.set(out, broken[0])
        elif dim != 1:
            same = {repr(lay) for lay in layouts}
            self.set(
                out, layouts[0] if len(same) == 1 else
                'torch.cat of tensors of different channel layouts')
        else:
            segments = ()
            for tensor, layout in zip(tensors, layouts):
                segments += layout or ((tensor.shape[1], False), )
            self.set(out, segments)


OutputRule = Callable[[str, nn.Module, TensorLayout], TensorLayout]


class Trace(NamedTuple):
    """What one tracing forward found.

    Attributes:
        in_layouts (dict[str, list]): For each called leaf or parametric
            module, the layouts of the inputs it was called with.
        out_layouts (list): Layouts of the model's output tensors.
        multipliers (set[str]): Parameter-free leaf modules (e.g. sigmoid
            activations of squeeze-and-excitation blocks) whose output
            gates a widened tensor by multiplication.
    """

    in_layouts: Dict[str, List[TensorLayout]]
    out_layouts: List[TensorLayout]
    multipliers: Set[str]


def trace_layouts(model: nn.Module, inputs: Tensor,
                  output_rule: OutputRule) -> Trace:
    """Runs ``model`` once and records the input layout of every module.

    Args:
        model (nn.Module): The plain (student) network, any mode.
        inputs (Tensor): Example images.
        output_rule (callable): ``(name, module, in_layout) -> layout`` of
            the output of each module that has parameters.

    Returns:
        Trace: Input layouts per module, output layouts, gates.
    """
    propagation = _LayoutPropagation()
    in_layouts: Dict[str, List[TensorLayout]] = {}
    handles = []

    def watch(name: str, module: nn.Module) -> None:

        def pre_hook(mod, args):
            tensors = _tensors(args)
            layout = propagation.get(tensors[0]) if tensors else None
            in_layouts.setdefault(name, []).append(layout)

        def post_hook(mod, args, output):
            layout = output_rule(name, mod, in_layouts[name][-1])
            for tensor in _tensors(output):
                propagation.set(tensor, layout)

        def leaf_hook(mod, args, output):
            order = len(propagation.leaf_outputs) + 1
            for tensor in _tensors(output):
                propagation.leaf_outputs[id(tensor)] = (tensor, name, order)

        handles.append(module.register_forward_pre_hook(pre_hook))
        if any(True for _ in module.parameters(recurse=False)):
            handles.append(module.register_forward_hook(post_hook))
        else:
            handles.append(module.register_forward_hook(leaf_hook))

    for name, module in model.named_modules():
        has_params = any(True for _ in module.parameters(recurse=False))
        if has_params or not any(True for _ in module.children()):
            watch(name, module)
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), propagation:
            outputs = forward_all(model, inputs)
            out_layouts = [propagation.get(t) for t in outputs]
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return Trace(in_layouts, out_layouts, propagation.multipliers)
