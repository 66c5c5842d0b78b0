"""Traces which tensors of a network the dynamic teacher widens.

Guo et al., GPD (ICLR 2025); reference method-gpd.md Sec. 5.3 step 2. One
forward of the plain student records, for every module, the channel layout
(:mod:`.layout`) of its input. Layouts start at the modules whose outputs
are widened (given by a callback) and flow through every torch function:
ops that keep the channel count keep the layout, ``torch.cat`` on the
channel dim concatenates layouts, and ops that change the channel count of
a widened tensor (split, chunk, slicing, channel shuffle, reshape) mark it
unsupported, with the op's name for the error message. Parametric modules
overwrite the layout of their output.
"""
from typing import Callable, Dict, List, Union

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


def trace_layouts(model: nn.Module, inputs: Tensor,
                  output_rule: OutputRule) -> tuple:
    """Runs ``model`` once and records the input layout of every module.

    Args:
        model (nn.Module): The plain (student) network, any mode.
        inputs (Tensor): Example images.
        output_rule (callable): ``(name, module, in_layout) -> layout`` of
            the output of each module that has parameters.

    Returns:
        tuple: ``(in_layouts, out_layouts)``: ``in_layouts`` maps each
        called leaf or parametric module's name to the list of layouts it
        was called with; ``out_layouts`` are the layouts of the model's
        output tensors.
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

        handles.append(module.register_forward_pre_hook(pre_hook))
        if any(True for _ in module.parameters(recurse=False)):
            handles.append(module.register_forward_hook(post_hook))

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
    return in_layouts, out_layouts
