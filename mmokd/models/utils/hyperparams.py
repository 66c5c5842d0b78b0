"""Build-time checks of numeric hyper-parameters, naming the config field.

A setting such as ``tau=0`` or ``loss_weight=nan`` would otherwise train
to NaN (or maximise a divergence) without any error. Every registered
mmokd loss, distiller, algorithm and hook checks its numbers with these
functions when it is built and raises a ``ValueError`` that names the
config field and what is allowed.

A module does not know where its config sits; the code that builds it
does. Inside :func:`config_field`, :func:`field_of` names an argument
``{field}.{argument}`` (e.g.
``model.distiller.losses.student.loss_dml.tau``); outside, as
``{Class}.{argument}``. Losses are built with :func:`build_loss`, which
also checks ``tau`` and ``loss_weight`` of MMRazor's losses.
"""
import math
from contextlib import contextmanager
from contextvars import ContextVar
from numbers import Integral, Real
from typing import Iterator, NoReturn, Optional

from torch import nn

from mmokd.registry import MODELS

_FIELD: ContextVar[Optional[str]] = ContextVar(
    'mmokd_config_field', default=None)


@contextmanager
def config_field(field: str) -> Iterator[None]:
    """Names the config entry of the objects built inside the block.

    Example:
        >>> with config_field('model.distiller.losses.student.loss_dml'):
        ...     loss = MODELS.build(cfg)

    Args:
        field (str): Config path of the entry, e.g. ``'model.dml_loss'``.
    """
    token = _FIELD.set(field)
    try:
        yield
    finally:
        _FIELD.reset(token)


def field_of(owner: object, argument: str) -> str:
    """The config field of ``owner``'s argument ``argument``.

    Args:
        owner (object): The object being built.
        argument (str): Name of its ``__init__`` argument.

    Returns:
        str: ``{field}.{argument}`` inside :func:`config_field`, otherwise
        ``{type(owner).__name__}.{argument}``.
    """
    return f'{_FIELD.get() or type(owner).__name__}.{argument}'


def _refuse(field: str, value: object, allowed: str) -> NoReturn:
    raise ValueError(f'{field} must be {allowed}, got {value!r}.')


def _is_real(value: object) -> bool:
    """A real number that is not a bool (``True`` is an ``int``)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def check_nonnegative(value: float, field: str) -> float:
    """Refuses anything but a finite number ``>= 0`` (loss weights,
    noise levels).

    Args:
        value (float): The setting.
        field (str): Its config field, for the message.

    Returns:
        float: ``value``.
    """
    if not (_is_real(value) and math.isfinite(value) and value >= 0):
        _refuse(field, value, 'a finite number >= 0')
    return value


def check_positive(value: float, field: str) -> float:
    """Refuses anything but a finite number ``> 0`` (temperatures,
    epsilons).

    Args:
        value (float): The setting.
        field (str): Its config field, for the message.

    Returns:
        float: ``value``.
    """
    if not (_is_real(value) and math.isfinite(value) and value > 0):
        _refuse(field, value, 'a finite number > 0')
    return value


def check_fraction(value: float, field: str) -> float:
    """Refuses anything but a number in ``[0, 1]`` (smoothing).

    Args:
        value (float): The setting.
        field (str): Its config field, for the message.

    Returns:
        float: ``value``.
    """
    if not (_is_real(value) and 0 <= value <= 1):
        _refuse(field, value, 'a number in [0, 1]')
    return value


def check_integer(value: int,
                  field: str,
                  minimum: Optional[int] = None) -> int:
    """Refuses anything but an integer (``>= minimum`` when given).

    Args:
        value (int): The setting.
        field (str): Its config field, for the message.
        minimum (int, optional): Smallest allowed value.

    Returns:
        int: ``value``.
    """
    if not (isinstance(value, Integral) and not isinstance(value, bool) and
            (minimum is None or value >= minimum)):
        _refuse(
            field, value,
            'an integer' if minimum is None else f'an integer >= {minimum}')
    return value


def check_flag(value: bool, field: str) -> bool:
    """Refuses anything but ``True`` or ``False`` (a string such as
    ``'false'`` would count as true).

    Args:
        value (bool): The setting.
        field (str): Its config field, for the message.

    Returns:
        bool: ``value``.
    """
    if not isinstance(value, bool):
        _refuse(field, value, 'True or False')
    return value


def build_loss(cfg: dict, field: str) -> nn.Module:
    """Builds a loss from its config at ``field``, its settings checked.

    mmokd's losses check their own arguments, named ``{field}.{argument}``.
    The ``tau`` (> 0) and ``loss_weight`` (>= 0) that MMRazor's losses
    (``KLDivergence``, ``DKDLoss``, ...) carry unchecked are checked on the
    built module.

    Args:
        cfg (dict): The loss config.
        field (str): Its config path, e.g. ``'model.static_kd'``.

    Returns:
        nn.Module: The loss.
    """
    with config_field(field):
        loss = MODELS.build(cfg)
    for argument, check in (('tau', check_positive), ('loss_weight',
                                                      check_nonnegative)):
        if hasattr(loss, argument):
            check(getattr(loss, argument), f'{field}.{argument}')
    return loss
