"""Checkpoint loading that never runs code read from the file.

Every checkpoint mmokd reads (``resume``, ``load_from``, ``init_cfg``
pretrained weights of local files, ``tools/test.py``, the export and
visualisation tools, GPD's ``student_ckpt`` / ``teacher_ckpt``) goes
through :func:`load_checkpoint_safely`:

* ``torch.load(weights_only=True)``, with an allow-list that holds only
  data classes: mmengine's ``HistoryBuffer`` (the message hub's
  statistics) and the numpy array, scalar and dtype types it stores. The
  allow-list is scoped to the call (``torch.serialization.safe_globals``),
  so importing mmokd does not widen torch's global allow-list.
* No callable that returns arbitrary objects is allowed. Pickle protocol
  2 (torch's default) stores a reference to ``HistoryBuffer.min`` etc. as
  ``getattr(HistoryBuffer, 'min')``; the global ``builtins.getattr`` is
  therefore bound to :func:`_history_buffer_statistic`, which answers
  exactly those (class, name) pairs and refuses every other lookup.
* A config's text stored in ``meta['config']`` is dropped: mmengine's
  ``Runner.resume`` would execute it as Python (``Config.fromstring``).
* A file that is not a checkpoint, or one that needs anything else,
  raises :class:`CheckpointRefusedError` naming the file and the reason.
"""
import importlib
import os.path as osp
import pickle
import zipfile
from typing import Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log

#: Statistics methods ``HistoryBuffer`` may reference in a checkpoint.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


class CheckpointRefusedError(RuntimeError):
    """A file that mmokd does not load as a checkpoint."""


def _history_buffer_statistic(owner: object, name: str) -> Callable:
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods.

    Args:
        owner (object): Must be mmengine's ``HistoryBuffer`` class.
        name (str): One of :data:`HISTORY_BUFFER_STATISTICS`.

    Returns:
        Callable: The unbound statistics method.

    Raises:
        pickle.UnpicklingError: For any other object or name.
    """
    from mmengine.logging import HistoryBuffer
    if owner is not HistoryBuffer or name not in HISTORY_BUFFER_STATISTICS:
        raise pickle.UnpicklingError(
            f'attribute lookup {name!r} on {type(owner).__name__} is not '
            'allowed (only HistoryBuffer statistics methods are)')
    return getattr(HistoryBuffer, name)


def _numpy_data_types() -> List[object]:
    """Numpy objects that mmengine's message hub pickles into checkpoints."""
    multiarray = importlib.import_module('numpy._core.multiarray' if hasattr(
        np, '_core') else 'numpy.core.multiarray')
    items = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    dtype_classes = ('Float64DType', 'Float32DType', 'Float16DType',
                     'Int64DType', 'Int32DType', 'BoolDType')
    items += [getattr(np.dtypes, name) for name in dtype_classes]
    return items


def checkpoint_safe_globals() -> List[Union[object, Tuple[object, str]]]:
    """What ``weights_only`` loading may meet in an mmengine checkpoint.

    Returns:
        list: Entries for ``torch.serialization.safe_globals``: data
        classes, and the restricted lookup bound to ``builtins.getattr``.
    """
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, (_history_buffer_statistic, 'builtins.getattr')
            ] + _numpy_data_types()


def _is_torch_file(path: str) -> bool:
    """Whether ``path`` starts like a file ``torch.save`` writes (a zip
    archive, or the legacy format's pickled magic number)."""
    if zipfile.is_zipfile(path):
        return True
    magic = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)[2:-1]
    with open(path, 'rb') as f:
        head = f.read(2 + len(magic))
    return head[:1] == pickle.PROTO and head[2:] == magic


def _refusal(path: str, error: pickle.UnpicklingError
             ) -> CheckpointRefusedError:
    """The error for a file torch's ``weights_only`` unpickler refused,
    with torch's reason but without its advice to turn the check off."""
    lines = [
        line.strip() for line in str(error).splitlines()
        if line.strip() and 'weights_only' not in line
        and 'Weights only load failed' not in line
        and 'Check the documentation' not in line
    ]
    reason = lines[0].rstrip('.') if lines else type(error).__name__
    return CheckpointRefusedError(
        f'Refused to load checkpoint {path}: {reason}. mmokd loads only '
        'tensors, mmengine logging statistics and numpy arrays from a '
        'checkpoint and never runs code stored in one. If you wrote this '
        'file yourself, save plain state dicts (torch.save of tensors) '
        'instead.')


def _not_a_checkpoint(path: str, detail: str) -> CheckpointRefusedError:
    """The error for a file that is not one ``torch.save`` wrote."""
    return CheckpointRefusedError(
        f'{path} is not a valid PyTorch checkpoint ({detail}). Check the '
        'path, or re-download / re-save the file.')


def load_checkpoint_safely(path: str,
                           map_location: Optional[Union[str,
                                                        torch.device]] = 'cpu'
                           ) -> dict:
    """Loads a checkpoint with ``weights_only=True`` and no code execution.

    Args:
        path (str): Checkpoint file.
        map_location (str | torch.device, optional): As for ``torch.load``.
            Defaults to ``'cpu'``.

    Returns:
        dict: The checkpoint, without ``meta['config']`` (config text that
        mmengine would execute).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointRefusedError: If the file is not a PyTorch checkpoint or
            holds objects other than tensors and mmengine's statistics.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint file {path} does not exist.')
    if not _is_torch_file(path):
        raise _not_a_checkpoint(path, 'not written by torch.save')
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            checkpoint = torch.load(
                path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise _refusal(path, error) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        detail = str(error).splitlines()[0] if str(error) else 'empty file'
        raise _not_a_checkpoint(path, detail) from None
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if isinstance(meta, dict) and 'config' in meta:
        del meta['config']
        print_log(
            f'{path}: ignored the config text stored in meta["config"] '
            '(a checkpoint\'s config is never executed).',
            logger='current')
    return checkpoint


def register_safe_checkpoint_loader() -> None:
    """Makes mmengine load local files with :func:`load_checkpoint_safely`.

    mmengine's ``Runner`` (``resume``, ``load_from``, ``tools/test.py``)
    and ``init_cfg=dict(type='Pretrained', checkpoint=<local file>)`` read
    local checkpoints through ``CheckpointLoader``'s default scheme.
    """
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_checkpoint_safely, force=True)
