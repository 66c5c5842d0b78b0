"""Registries of mmokd: children of MMRazor's, scope ``mmokd``.

Types are looked up in mmokd first, then in MMRazor and mmengine, so a
config under ``_scope_='mmokd'`` can name MMRazor's recorders or losses
without a prefix, and ``type='mmokd.X'`` resolves from any default scope.
"""
from mmrazor.registry import DATASETS as MMRAZOR_DATASETS
from mmrazor.registry import HOOKS as MMRAZOR_HOOKS
from mmrazor.registry import LOOPS as MMRAZOR_LOOPS
from mmrazor.registry import METRICS as MMRAZOR_METRICS
from mmrazor.registry import MODEL_WRAPPERS as MMRAZOR_MODEL_WRAPPERS
from mmrazor.registry import MODELS as MMRAZOR_MODELS
from mmrazor.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMRAZOR_OPTIM_WRAPPER_CONSTRUCTORS
from mmrazor.registry import TASK_UTILS as MMRAZOR_TASK_UTILS
from mmrazor.registry import TRANSFORMS as MMRAZOR_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMRAZOR_MODELS, scope='mmokd',
    locations=['mmokd.models'])
TASK_UTILS = Registry(
    'task util', parent=MMRAZOR_TASK_UTILS, scope='mmokd',
    locations=['mmokd.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMRAZOR_MODEL_WRAPPERS, scope='mmokd',
    locations=['mmokd.engine'])
LOOPS = Registry(
    'loop', parent=MMRAZOR_LOOPS, scope='mmokd', locations=['mmokd.engine'])
HOOKS = Registry(
    'hook', parent=MMRAZOR_HOOKS, scope='mmokd', locations=['mmokd.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMRAZOR_OPTIM_WRAPPER_CONSTRUCTORS, scope='mmokd',
    locations=['mmokd.engine'])
DATASETS = Registry(
    'dataset', parent=MMRAZOR_DATASETS, scope='mmokd',
    locations=['mmokd.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMRAZOR_TRANSFORMS, scope='mmokd',
    locations=['mmokd.datasets'])
METRICS = Registry(
    'metric', parent=MMRAZOR_METRICS, scope='mmokd',
    locations=['mmokd.evaluation'])
