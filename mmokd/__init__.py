"""mmokd: online knowledge distillation for OpenMMLab.

Importing the package applies the compatibility fixes of
:mod:`mmokd.compat` first, then registers every mmokd module.
"""
from . import compat

compat.apply()

from . import datasets, engine, models  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
