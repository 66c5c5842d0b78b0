"""Builds the dynamic teacher in place by Inverse Reparameterization.

Guo et al., "Gap Preserving Distillation by Building Bidirectional Mappings
with A Dynamic Teacher", ICLR 2025, Sec. 3.2-3.3. The dynamic teacher (DT)
is the student widened ``r`` times in every channel inside ``scope``; the
student's weights become (scaled) prefix slices of the DT's (hard
parameter sharing), so one parameter store trains both. Inverse
Reparameterization (IR) tiles / rescales the student's weights so that the
DT computes the student's function at step 0.

Boundaries: convs that read a non-widened tensor inside ``scope`` (the
stem reading the image) widen only their output (``input_boundary``,
detected when left empty); layers in ``output_boundary`` (e.g.
``head.fc``) widen only their input. Modules outside ``scope`` that consume
widened tensors (mmseg decode / auxiliary heads when ``scope='backbone'``)
are found by a tracing forward and widen only their input columns; when a
widened tensor is concatenated with plain ones first (PSPHead's bottleneck
reads ``cat([x, ppm(x)])``) the conv gets a column map instead of a prefix
slice. Everything else outside ``scope`` is shared in full by student and
DT, with separate BN running statistics per mode: this (GPD for
segmentation) goes beyond the paper, which only covers classification.

Activation modules that are not positively homogeneous (ReLU6, HSwish, ...)
and read widened tensors are wrapped by :class:`~.activation.GPDActivation`;
those whose output multiplies a widened tensor (squeeze-and-excitation
sigmoids, found by the trace) become gates.
"""
from functools import partial
from typing import Callable, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from ..utils import check_nonnegative
from .activation import NON_HOMOGENEOUS_ACTIVATIONS, GPDActivation
from .batch_norm import GPDBatchNorm2d
from .conv import GPDConv2d, GPDMultiBranchConv2d
from .layout import is_prefix, is_widened, widened
from .linear import GPDLinear
from .mode import GPD_MODES, GPDModeMixin, set_gpd_mode
from .multi_branch_conv import (BRANCH_INITS, MultiBranchConv2d,
                                convert_to_multi_branch, replace_module)
from .trace import forward_all, trace_layouts

#: Config path of the arguments, used in error messages.
CFG = 'model.gpd'
_BN_TYPES = (nn.BatchNorm2d, nn.SyncBatchNorm)
_WEIGHTED_TYPES = (nn.Conv2d, nn.Linear, MultiBranchConv2d)
#: Relative tolerance of the IR self-check (reference Sec. 5.3).
SELF_CHECK_RTOL = 1e-4


class _Expansion:
    """Validated arguments and the per-module decisions of one expansion."""

    def __init__(self, model: nn.Module, ratio: int,
                 input_boundary: Sequence[str], output_boundary: Sequence[str],
                 scope: Union[None, str, Sequence[str]]) -> None:
        if isinstance(ratio, bool) or not isinstance(ratio, int) \
                or ratio < 2:
            raise ValueError(f'{CFG}.ratio must be an integer >= 2 (the '
                             f'reference supports integer ratios only), '
                             f'got {ratio!r}.')
        self.ratio = ratio
        self.modules = dict(model.named_modules())
        self.scopes = (scope, ) if isinstance(scope, str) else scope
        if self.scopes is not None:
            self.scopes = self._check_names(self.scopes, 'scope', nn.Module)
        self.input_boundary = self._check_names(input_boundary,
                                                'input_boundary')
        self.output_boundary = self._check_names(output_boundary,
                                                 'output_boundary')
        self.gates = set()

    def _check_names(self,
                     names: Sequence[str],
                     field: str,
                     kinds: tuple = _WEIGHTED_TYPES) -> tuple:
        if isinstance(names, str):
            names = (names, )
        for name in names:
            if name not in self.modules:
                raise ValueError(
                    f'{CFG}.{field}: {name!r} is not a module of the model. '
                    'Use a name from model.named_modules(), e.g. '
                    "'backbone' for scope, 'head.fc' for output_boundary.")
            if not isinstance(self.modules[name], kinds):
                raise ValueError(
                    f'{CFG}.{field}: {name!r} is a '
                    f'{type(self.modules[name]).__name__}; it must be a '
                    'Conv2d or Linear layer.')
            if field != 'scope' and not self.in_scope(name):
                raise ValueError(f'{CFG}.{field}: {name!r} is outside '
                                 f'{CFG}.scope {self.scopes}.')
        return tuple(names)

    def in_scope(self, name: str) -> bool:
        """Whether module ``name`` is widened."""
        return self.scopes is None or any(name == s or name.startswith(s + '.')
                                          for s in self.scopes)

    def output_layout(self, name: str, module: nn.Module, in_layout):
        """Layout of a parametric module's output (trace rule)."""
        if isinstance(module, _BN_TYPES):
            return in_layout
        if isinstance(module, _WEIGHTED_TYPES) and self.in_scope(name) \
                and name not in self.output_boundary:
            return widened(module.weight.shape[0])
        return None

    def replacement(self, name: str, module: nn.Module,
                    layouts: list) -> Optional[Callable]:
        """Validates ``module``; returns the builder of its GPD op.

        Args:
            name (str): Module name.
            module (nn.Module): The student's module.
            layouts (list): Layouts of its inputs in the trace.

        Returns:
            callable | None: ``module -> GPD op``, ``None`` keeps it.
        """
        kinds = {_kind(layout) for layout in layouts}
        if isinstance(module, _WEIGHTED_TYPES + _BN_TYPES):
            kinds = {repr(layout) for layout in layouts}
        if len(kinds) > 1:
            raise ValueError(f'{name} is called on tensors of different '
                             f'channel layouts {layouts}; a module reused '
                             f'like this cannot be widened. Move it out of '
                             f'{CFG}.scope.')
        layout = layouts[0]
        scoped = self.in_scope(name)
        if isinstance(layout, str):
            raise ValueError(
                f'{name} reads a tensor whose channel layout does not match '
                f'the widened DT ({layout}). Channel split / slicing / '
                f'shuffle of widened tensors is unsupported: put that part '
                f'of the network outside {CFG}.scope.')
        if isinstance(module, _WEIGHTED_TYPES):
            return self._weighted(name, module, layout, scoped)
        if isinstance(module, _BN_TYPES):
            if scoped != is_prefix(layout):
                where = 'inside' if scoped else 'outside'
                raise ValueError(
                    f'{name} ({where} {CFG}.scope) normalises a '
                    f'{"non-" if scoped else ""}widened tensor (layout '
                    f'{layout}); adjust {CFG}.scope / '
                    f'{CFG}.output_boundary so that every BN inside the '
                    'scope follows a widened layer.')
            return partial(GPDBatchNorm2d, ratio=self.ratio, expanded=scoped)
        widened_input = is_widened(layout)
        if type(module).__name__ in NON_HOMOGENEOUS_ACTIVATIONS \
                and widened_input:
            if not is_prefix(layout):
                raise ValueError(f'{name} applies a non-homogeneous '
                                 f'activation to a concatenation {layout}')
            return partial(
                GPDActivation, ratio=self.ratio, gate=name in self.gates)
        if any(True for _ in module.parameters(
                recurse=False)) and (scoped or widened_input):
            raise ValueError(
                f'{name}: {type(module).__name__} is not supported by GPD '
                '(supported: Conv2d, Linear, BatchNorm2d, SyncBatchNorm). '
                f'Keep it outside {CFG}.scope and away from widened '
                'tensors.')
        return None

    def _weighted(self, name: str, module: nn.Module, layout,
                  scoped: bool) -> Optional[Callable]:
        out_expanded = scoped and name not in self.output_boundary
        if scoped:
            if layout is None and self.input_boundary and \
                    name not in self.input_boundary:
                raise ValueError(
                    f'{name} is inside {CFG}.scope but reads a non-widened '
                    f'tensor; add it to {CFG}.input_boundary.')
            if layout is not None and name in self.input_boundary:
                raise ValueError(f'{CFG}.input_boundary: {name!r} reads a '
                                 'widened tensor, not the input image.')
            if layout is not None and not is_prefix(layout):
                raise ValueError(
                    f'{name} reads a channel concatenation {layout} inside '
                    f'{CFG}.scope; concatenations are only supported '
                    f'outside the scope (move {name} out of {CFG}.scope).')
            if layout is None and not out_expanded:
                raise ValueError(f'{name} is in both {CFG}.input_boundary '
                                 f'and {CFG}.output_boundary.')
        elif layout is None:
            return None
        if isinstance(module, nn.Conv2d) and module.padding_mode != 'zeros':
            raise ValueError(f'{name}: padding_mode '
                             f'{module.padding_mode!r} is not supported.')
        if getattr(module, 'groups',
                   1) > 1 and not (is_prefix(layout) and out_expanded):
            raise ValueError(
                f'{name} is a grouped conv whose input or output is not '
                f'widened; grouped convs must be inside {CFG}.scope and not '
                'at a boundary.')
        return partial(
            _weighted_op,
            ratio=self.ratio,
            in_layout=layout,
            out_expanded=out_expanded)


def _weighted_op(module: nn.Module, **kwargs) -> nn.Module:
    """The GPD op of a conv / multi-branch conv / linear layer."""
    if isinstance(module, MultiBranchConv2d):
        return GPDMultiBranchConv2d(module, **kwargs)
    if isinstance(module, nn.Conv2d):
        return GPDConv2d(module, **kwargs)
    return GPDLinear(module, **kwargs)


def _kind(layout) -> str:
    """Coarse class of a layout: plain, widened, concatenation or broken."""
    if layout is None or isinstance(layout, str):
        return repr(layout)
    return 'widened' if is_prefix(layout) else 'concatenation'


def expand_to_dynamic_teacher(
        model: nn.Module,
        ratio: int = 2,
        input_boundary: Sequence[str] = (),
        output_boundary: Sequence[str] = (),
        scope: Union[None, str, Sequence[str]] = None,
        noise_std: float = 1e-6,
        branches: Optional[str] = None,
        example_input: Optional[Tensor] = None) -> nn.Module:
    """Turns ``model`` into one store holding the student and the DT.

    In place: replaces the modules of ``model`` by GPD ops whose parameters
    have the DT's (widened) shapes and are initialised by Inverse
    Reparameterization from ``model``'s current weights (initialise or load
    the student first). Afterwards :func:`~.mode.set_gpd_mode` selects the
    student (default) or the DT; :func:`~.export.export_student` extracts
    the plain student.

    Example:
        >>> model = expand_to_dynamic_teacher(
        ...     classifier, ratio=2, output_boundary=('head.fc', ))
        >>> with gpd_mode(model, 'dynamic_teacher'):
        ...     logits_dt = model(images, mode='tensor')

    Args:
        model (nn.Module): The student network, modified in place.
        ratio (int): Integer expansion ratio ``r`` (paper: 2).
        input_boundary (Sequence[str]): Modules inside ``scope`` that read
            a non-widened tensor (the image); only their output is widened.
            Empty: every such module, found by the trace.
        output_boundary (Sequence[str]): Modules inside ``scope`` whose
            output is not widened, e.g. ``('head.fc', )``.
        scope (str | Sequence[str], optional): Module-name prefix(es) that
            are widened, e.g. ``'backbone'``; ``None``: the whole model.
        noise_std (float): Std of the Gaussian noise added to every tiled
            tensor after IR (reference: 1e-6); 0 keeps IR exact.
        branches (str, optional): ``None``, ``'scratch'`` or
            ``'pretrained'``: first replace the 3x3 / stride-1 / padding-1
            convs inside ``scope`` by multi-branch blocks
            (:mod:`.multi_branch_conv`); ``'pretrained'`` keeps the
            student's function exactly.
        example_input (Tensor, optional): Images for the tracing forward
            and the IR self-check; default ``randn(2, 3, 64, 64)``.

    Returns:
        nn.Module: ``model``, in student mode.

    Raises:
        ValueError: For invalid arguments or unsupported structures inside
            the scope (channel concatenation, split, shuffle, unsupported
            layers), found before ``model`` is modified; or when the IR
            self-check finds that the DT does not compute the student's
            function (functional non-homogeneous activations such as
            ``F.relu6``, functional sigmoid gates), after the modules
            were replaced.
    """
    if any(isinstance(m, GPDModeMixin) for m in model.modules()):
        raise ValueError('the model is already expanded to a dynamic '
                         'teacher')
    expansion = _Expansion(model, ratio, input_boundary, output_boundary,
                           scope)
    check_nonnegative(noise_std, f'{CFG}.noise_std')
    if branches is not None and branches not in BRANCH_INITS:
        raise ValueError(f'{CFG}.branches must be None or one of '
                         f'{sorted(BRANCH_INITS)}, got {branches!r}.')
    if example_input is None:
        param = next(model.parameters())
        example_input = torch.randn(
            2, 3, 64, 64, device=param.device, dtype=param.dtype)
    trace = trace_layouts(model, example_input, expansion.output_layout)
    expansion.gates = trace.multipliers
    for layout in trace.out_layouts:
        if layout is not None:
            raise ValueError('an output of the model is widened (layout '
                             f'{layout}); add the layer producing it (e.g. '
                             f"'head.fc') to {CFG}.output_boundary.")
    builders = []
    for name, module in model.named_modules():
        if name in trace.in_layouts:
            builder = expansion.replacement(name, module,
                                            trace.in_layouts[name])
            if builder is not None:
                builders.append((name, builder))
        elif expansion.in_scope(name) and isinstance(
                module, _WEIGHTED_TYPES + _BN_TYPES):
            raise ValueError(
                f'{name} is inside {CFG}.scope but not run by the tracing '
                'forward; remove unused layers from the scope.')
    # Validation is over: from here on ``model`` is modified.
    if branches is not None:
        convert_to_multi_branch(model, branches, expansion.in_scope)
    reference = _outputs_in_eval(model, example_input)
    for name, builder in builders:
        replace_module(model, name, builder(model.get_submodule(name)))
    _self_check(model, example_input, reference)
    if noise_std > 0:
        for module in model.modules():
            if isinstance(module, (GPDConv2d, GPDLinear, GPDBatchNorm2d)):
                module.add_ir_noise(noise_std)
    set_gpd_mode(model, 'student')
    return model


def _outputs_in_eval(model: nn.Module, inputs: Tensor) -> list:
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return forward_all(model, inputs)
    finally:
        model.train(training)


def _self_check(model: nn.Module, inputs: Tensor, reference: list) -> None:
    """Both modes must reproduce the plain student's outputs (noise 0)."""
    for mode in GPD_MODES:
        set_gpd_mode(model, mode)
        outputs = _outputs_in_eval(model, inputs)
        for i, (out, ref) in enumerate(zip(outputs, reference)):
            diff = (out - ref).abs().max().item()
            tolerance = SELF_CHECK_RTOL * ref.abs().max().item() + 1e-6
            if diff > tolerance:
                raise ValueError(
                    f'GPD Inverse Reparameterization self-check failed: '
                    f'output {i} in {mode} mode differs from the student '
                    f'by {diff:.3g} (tolerance {tolerance:.3g}). The model '
                    'has an op that does not commute with the widening '
                    '(a functional non-homogeneous activation such as '
                    'F.relu6, a functional sigmoid gate, a channel '
                    'concat/split); '
                    f'put it outside {CFG}.scope.')
