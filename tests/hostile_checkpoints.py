"""Checkpoint files built to run code when unpickled.

Each writer saves, with ``torch.save``, an mmengine-like checkpoint (a
real ``state_dict`` and ``meta``) that also holds one payload. A payload
that runs writes ``marker``, so a test proves that nothing ran by the
marker's absence. :func:`unsafe_load` opens a file the way the code before
the fix did (``getattr`` allow-listed), to prove the payload is live.
"""
import os
from typing import Callable, Dict

import torch


class Lookup:
    """Pickles as ``getattr(owner, name)``."""

    def __init__(self, owner: object, name: str) -> None:
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


def builtin(name: str) -> Lookup:
    """``builtins.<name>`` reached from the ``getattr`` global alone:
    ``getattr(getattr(getattr, '__self__'), name)``."""
    return Lookup(Lookup(getattr, '__self__'), name)


def python_payload(marker: str) -> str:
    """Python source that writes ``marker``."""
    return f'open({marker!r}, "w").write("payload ran")'


class CallThroughRebuildFromType:
    """``torch._tensor._rebuild_from_type_v2(func, Tensor, args, {})``
    calls ``func(*args)``: with ``func = builtins.exec``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return torch._tensor._rebuild_from_type_v2, (
            builtin('exec'), torch.Tensor, (python_payload(self.marker), ),
            {})


class CallThroughWrapperSubclass:
    """``torch._utils._rebuild_wrapper_subclass`` with a ``cls`` reached
    through ``getattr``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return torch._utils._rebuild_wrapper_subclass, (
            builtin('exec'), torch.float32, (1, ), (1, ), 0, torch.strided,
            torch.device('cpu'), False)


class CallThroughParameterState:
    """``torch._utils._rebuild_parameter_with_state`` whose data is the
    result of ``builtins.eval`` on the payload."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return torch._utils._rebuild_parameter_with_state, (
            RebuildEval(self.marker), False, {}, {})


class RebuildEval:
    """``_rebuild_from_type_v2(eval, Tensor, (payload,), {})``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return torch._tensor._rebuild_from_type_v2, (
            builtin('eval'), torch.Tensor,
            (f'({python_payload(self.marker)}, __import__("torch")'
             '.zeros(1))[1]', ), {})


class OsSystem:
    """The classic ``__reduce__`` to ``os.system``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class CustomObject:
    """An object of a class nobody allow-listed; ``__setstate__`` writes
    the marker when a full unpickler restores it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        open(self.marker, 'w').write('payload ran')


class HistoryBufferInit:
    """``getattr(HistoryBuffer, '__init__')`` then its ``__globals__``:
    a by-name lookup that is not one of the statistics methods."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        globals_of_init = Lookup(Lookup(HistoryBuffer, '__init__'),
                                 '__globals__')
        return torch._tensor._rebuild_from_type_v2, (Lookup(
            globals_of_init, 'get'), torch.Tensor, ('__builtins__', ), {})


#: Name -> payload class; each instance takes the marker path.
PAYLOADS: Dict[str, Callable] = {
    'os_system': OsSystem,
    'custom_class': CustomObject,
    'getattr_rebuild_from_type_v2': CallThroughRebuildFromType,
    'getattr_rebuild_wrapper_subclass': CallThroughWrapperSubclass,
    'getattr_rebuild_parameter_with_state': CallThroughParameterState,
    'getattr_history_buffer_init': HistoryBufferInit,
}


def write_hostile_checkpoint(path: str, payload: str, marker: str) -> str:
    """Saves a checkpoint carrying ``PAYLOADS[payload]``.

    Args:
        path (str): Output file.
        payload (str): Key of :data:`PAYLOADS`.
        marker (str): File the payload writes if it runs.

    Returns:
        str: ``path``.
    """
    torch.save(
        {
            'meta': {
                'epoch': 1,
                'iter': 1
            },
            'state_dict': {
                'student.head.fc.weight': torch.zeros(2, 2)
            },
            'message_hub': {
                'runtime_info': {
                    'payload': PAYLOADS[payload](marker)
                }
            },
        }, path)
    return path


def unsafe_load(path: str) -> object:
    """Loads as mmokd did before the fix: ``getattr`` allow-listed."""
    with torch.serialization.safe_globals([getattr]):
        return torch.load(path, weights_only=True)
