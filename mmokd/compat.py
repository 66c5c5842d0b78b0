"""Compatibility fixes for the pinned OpenMMLab stack on torch >= 2.

Applied once on ``import mmokd`` (so ``custom_imports`` in a config applies
them while the config is parsed). Each fix is narrow and documented:

1. MMRazor 1.0.0 builds torch-1.13-only quantization backend tables at
   import time; on torch >= 2 they reference functions that no longer
   exist, so ``import mmrazor.models`` fails. Distillation needs no
   quantization: the two table modules are imported while MMRazor believes
   torch is 1.12 (which makes them define nothing), then everything else
   imports against the real version.
2. torch >= 2.6 loads checkpoints with ``weights_only=True``. mmengine
   0.10.7 checkpoints pickle a few non-tensor objects (the message hub's
   ``HistoryBuffer`` and numpy scalars/arrays); those exact classes are
   allow-listed so resume and ``load_from`` work while arbitrary code in a
   checkpoint is still refused.
"""
import importlib
from typing import Callable, List

import numpy as np
import torch

_APPLIED = False


def _numpy_safe_globals() -> List[object]:
    """Numpy objects that mmengine's message hub pickles into checkpoints."""
    multiarray = importlib.import_module('numpy._core.multiarray' if hasattr(
        np, '_core') else 'numpy.core.multiarray')
    items = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    dtype_classes = ('Float64DType', 'Float32DType', 'Float16DType',
                     'Int64DType', 'Int32DType', 'BoolDType')
    items += [getattr(np.dtypes, name) for name in dtype_classes]
    return items


def checkpoint_safe_globals() -> List[object]:
    """Classes allowed when unpickling an mmengine checkpoint.

    Returns:
        list: Objects to pass to ``torch.serialization.add_safe_globals``.
    """
    from mmengine.logging import HistoryBuffer

    # HistoryBuffer pickles its statistics methods by name via ``getattr``;
    # the unpickler still only calls allow-listed callables.
    return [HistoryBuffer, getattr] + _numpy_safe_globals()


def _allow_mmengine_checkpoints() -> None:
    """Allow-lists mmengine checkpoint contents for ``weights_only`` load."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(checkpoint_safe_globals())


def _import_mmrazor_without_quantization_tables() -> None:
    """Imports ``mmrazor.models`` / ``mmrazor.engine`` on torch >= 2."""
    import mmrazor
    real_digit_version: Callable = mmrazor.digit_version
    torch_version = torch.__version__

    def pretend_torch_1_12(version: str, *args, **kwargs):
        if version == torch_version:
            version = '1.12.1'
        return real_digit_version(version, *args, **kwargs)

    table_modules = ('mmrazor.structures.quantization.backend_config.'
                     'common_operator_config_utils',
                     'mmrazor.structures.quantization.backend_config.mapping')
    mmrazor.digit_version = pretend_torch_1_12
    try:
        modules = [importlib.import_module(name) for name in table_modules]
    finally:
        mmrazor.digit_version = real_digit_version
    for module in modules:
        module.digit_version = real_digit_version
    importlib.import_module('mmrazor.models')
    importlib.import_module('mmrazor.engine')


def apply() -> None:
    """Applies every fix once; later calls do nothing."""
    global _APPLIED
    if _APPLIED:
        return
    _allow_mmengine_checkpoints()
    _import_mmrazor_without_quantization_tables()
    _APPLIED = True
