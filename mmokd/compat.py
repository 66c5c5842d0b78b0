"""Compatibility fixes for the pinned OpenMMLab stack on torch >= 2.

Applied once on ``import mmokd`` (so ``custom_imports`` in a config applies
them while the config is parsed). Each fix is narrow and documented:

1. MMRazor 1.0.0 builds torch-1.13-only quantization backend tables at
   import time; on torch >= 2 they reference functions that no longer
   exist, so ``import mmrazor.models`` fails. Distillation needs no
   quantization: the two table modules are imported while MMRazor believes
   torch is 1.12 (which makes them define nothing), then everything else
   imports against the real version.
2. torch >= 2.6 loads checkpoints with ``weights_only=True``, which
   refuses the few non-tensor objects of mmengine 0.10.7 checkpoints (the
   message hub's ``HistoryBuffer`` and numpy arrays). mmengine's loader of
   local files is replaced by
   :func:`mmokd.utils.checkpoint.load_checkpoint_safely`, which allows
   exactly those data classes for the duration of one load (torch's
   global allow-list is left as it is) and never runs code from a file.
"""
import importlib
from typing import Callable

import torch

_APPLIED = False


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
    _import_mmrazor_without_quantization_tables()
    from mmokd.utils.checkpoint import register_safe_checkpoint_loader
    register_safe_checkpoint_loader()
    _APPLIED = True
