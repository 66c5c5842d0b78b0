"""Image classification (mmpretrain) as an online distillation task."""
from typing import Any, List, Optional

import torch
from torch import Tensor, nn

from mmokd.registry import TASKS
from .base_task import BaseTask


@TASKS.register_module()
class ClsTask(BaseTask):
    """One ``(N, C)`` row of softmax logits per image, one class label.

    No label is ever left out: ``ignored_label`` is None, because every
    integer is a class (class 255 is a real ImageNet class).

    Example:
        >>> model = dict(type='mmokd.DML', task=dict(type='mmokd.ClsTask'),
        ...              ...)
    """

    name = 'classification'
    is_dense = False
    activation = 'softmax'
    network_base = 'mmpretrain.models.BaseClassifier'
    logits_layout = '(N, C)'

    def labels(self, data_samples: List[Any]) -> Tensor:
        """``(N,)`` class indices of mmpretrain ``DataSample`` items.

        Args:
            data_samples (list): Samples carrying ``gt_label``.

        Returns:
            Tensor: ``(N,)`` labels.
        """
        if not data_samples or 'gt_label' not in data_samples[0]:
            raise KeyError('ClsTask: the data samples carry no gt_label; '
                           'use a classification dataset (mmpretrain '
                           'PackInputs) or set model.task.')
        return torch.cat([s.gt_label for s in data_samples]).long()

    def num_classes(self, network: nn.Module) -> Optional[int]:
        """``network.head.num_classes``.

        Args:
            network (nn.Module): A built classifier.

        Returns:
            int, optional: The class count.
        """
        return getattr(getattr(network, 'head', None), 'num_classes', None)
