"""Student / dynamic-teacher mode of a GPD-expanded network.

Guo et al., "Gap Preserving Distillation by Building Bidirectional Mappings
with A Dynamic Teacher", ICLR 2025: the student and the dynamic teacher (DT)
are two views of ONE parameter store. Every GPD op carries the mode it runs
in; :func:`set_gpd_mode` switches all ops of a network at once.
"""
from contextlib import contextmanager
from typing import Iterator

from torch import nn

GPD_MODES = ('student', 'dynamic_teacher')


class GPDModeMixin:
    """Marks a module whose forward depends on the GPD mode.

    Attributes:
        gpd_mode (str): One of :data:`GPD_MODES`; ``'student'`` after
            construction.
    """

    gpd_mode: str = 'student'

    @property
    def is_student(self) -> bool:
        """Whether the op currently computes the student's view."""
        return self.gpd_mode == 'student'


def _check_mode(mode: str) -> None:
    if mode not in GPD_MODES:
        raise ValueError(f'GPD mode must be one of {GPD_MODES}, got '
                         f'{mode!r}.')


def _gpd_ops(model: nn.Module) -> list:
    ops = [m for m in model.modules() if isinstance(m, GPDModeMixin)]
    if not ops:
        raise ValueError(f'{type(model).__name__} has no GPD ops; call '
                         'expand_to_dynamic_teacher() on it first.')
    return ops


def set_gpd_mode(model: nn.Module, mode: str) -> None:
    """Switches every GPD op of ``model`` to ``mode``.

    Args:
        model (nn.Module): A network expanded by
            :func:`expand_to_dynamic_teacher`.
        mode (str): ``'student'`` or ``'dynamic_teacher'``.
    """
    _check_mode(mode)
    for op in _gpd_ops(model):
        op.gpd_mode = mode


def get_gpd_mode(model: nn.Module) -> str:
    """The mode the GPD ops of ``model`` are in.

    Args:
        model (nn.Module): An expanded network.

    Returns:
        str: One of :data:`GPD_MODES`.
    """
    modes = {op.gpd_mode for op in _gpd_ops(model)}
    if len(modes) != 1:
        raise RuntimeError(f'GPD ops are in mixed modes {sorted(modes)}; '
                           'switch them with set_gpd_mode().')
    return modes.pop()


@contextmanager
def gpd_mode(model: nn.Module, mode: str) -> Iterator[nn.Module]:
    """Runs a block with ``model`` in ``mode``, then restores the old mode.

    Example:
        >>> with gpd_mode(model, 'dynamic_teacher'):
        ...     logits_dt = model(images)

    Args:
        model (nn.Module): An expanded network.
        mode (str): ``'student'`` or ``'dynamic_teacher'``.

    Yields:
        nn.Module: ``model``.
    """
    previous = get_gpd_mode(model)
    set_gpd_mode(model, mode)
    try:
        yield model
    finally:
        set_gpd_mode(model, previous)
