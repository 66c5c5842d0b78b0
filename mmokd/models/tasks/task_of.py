"""Resolves an algorithm's task: from its config, or from its network."""
from typing import Optional, Union

from torch import nn

from mmokd.registry import TASKS
from ..utils import config_field, unwrap
from .base_task import BaseTask


def task_of(network: nn.Module,
            cfg: Optional[Union[dict, BaseTask]] = None,
            field: str = 'model.task') -> BaseTask:
    """The task of an algorithm whose deployed network is ``network``.

    Args:
        network (nn.Module): The deployed network (the student).
        cfg (dict | BaseTask, optional): An explicit task (the
            algorithm's ``task`` field); it wins over the network's.
        field (str): The config field, for errors.

    Returns:
        BaseTask: The task.

    Raises:
        ValueError: No registered task reads the network and none is set.
    """
    if isinstance(cfg, BaseTask):
        return cfg
    if cfg is not None:
        with config_field(field):
            return TASKS.build(cfg)
    network = unwrap(network)
    for task in TASKS.module_dict.values():
        if task.fits(network):
            return task()
    raise ValueError(
        f'{field}: no task reads a {type(network).__name__} (known: '
        f'{sorted(TASKS.module_dict)}); set {field}, e.g. '
        "dict(type='mmokd.ClsTask') or dict(type='mmokd.SegTask').")
