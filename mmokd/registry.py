"""Registries of mmokd: children of MMRazor's, scope ``mmokd``.

Types are looked up in mmokd first, then in MMRazor and mmengine, so a
config under ``_scope_='mmokd'`` can name MMRazor's recorders or losses
without a prefix. The transform registry is a child of mmseg's (mmokd's
transforms are segmentation ones). mmengine resolves a prefixed
``type='mmokd.X'`` only among the direct children of its root
registries, so each mmokd registry is also listed there: ``mmokd.X``
then works under any default scope (``mmseg``, ``mmpretrain``), e.g. for
loops, hooks and constructors.
"""
from mmengine.registry import Registry
from mmrazor.registry import DATASETS as MMRAZOR_DATASETS
from mmrazor.registry import HOOKS as MMRAZOR_HOOKS
from mmrazor.registry import LOOPS as MMRAZOR_LOOPS
from mmrazor.registry import MODELS as MMRAZOR_MODELS
from mmrazor.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMRAZOR_OPTIM_WRAPPER_CONSTRUCTORS
from mmrazor.registry import TASK_UTILS as MMRAZOR_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS


def _prefix_reachable(registry: Registry) -> Registry:
    """Lists ``registry`` among its root's children (see module doc)."""
    root = registry._get_root_registry()
    root._children.setdefault(registry.scope, registry)
    return registry


MODELS = _prefix_reachable(
    Registry(
        'model',
        parent=MMRAZOR_MODELS,
        scope='mmokd',
        locations=['mmokd.models']))
TASK_UTILS = _prefix_reachable(
    Registry(
        'task util',
        parent=MMRAZOR_TASK_UTILS,
        scope='mmokd',
        locations=['mmokd.models']))
LOOPS = _prefix_reachable(
    Registry(
        'loop',
        parent=MMRAZOR_LOOPS,
        scope='mmokd',
        locations=['mmokd.engine']))
HOOKS = _prefix_reachable(
    Registry(
        'hook',
        parent=MMRAZOR_HOOKS,
        scope='mmokd',
        locations=['mmokd.engine']))
OPTIM_WRAPPER_CONSTRUCTORS = _prefix_reachable(
    Registry(
        'optimizer wrapper constructor',
        parent=MMRAZOR_OPTIM_WRAPPER_CONSTRUCTORS,
        scope='mmokd',
        locations=['mmokd.engine']))
DATASETS = _prefix_reachable(
    Registry(
        'dataset',
        parent=MMRAZOR_DATASETS,
        scope='mmokd',
        locations=['mmokd.datasets']))
#: Task adapters (``mmokd.ClsTask``, ``mmokd.SegTask``): what a task means
#: to a distill term. Not a child of another package's registry.
TASKS = Registry('task', scope='mmokd', locations=['mmokd.models.tasks'])
TRANSFORMS = _prefix_reachable(
    Registry(
        'transform',
        parent=MMSEG_TRANSFORMS,
        scope='mmokd',
        locations=['mmokd.datasets']))
