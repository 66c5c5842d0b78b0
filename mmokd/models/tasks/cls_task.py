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

    @classmethod
    def fits(cls, network: nn.Module) -> bool:
        """Whether ``network`` is an mmpretrain classifier.

        Args:
            network (nn.Module): A built network.

        Returns:
            bool: True for ``mmpretrain.models.BaseClassifier``.
        """
        from mmpretrain.models import BaseClassifier
        return isinstance(network, BaseClassifier)

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

    def ignored_label(self, ignore_index: int) -> Optional[int]:
        """None: classification labels are never left out.

        Args:
            ignore_index (int): The term's setting (unused here).

        Returns:
            None.
        """
        return None

    def num_classes(self, network: nn.Module) -> Optional[int]:
        """``network.head.num_classes``.

        Args:
            network (nn.Module): A built classifier.

        Returns:
            int, optional: The class count.
        """
        return getattr(getattr(network, 'head', None), 'num_classes', None)

    def logits_error(self, logits: Any) -> Optional[str]:
        """Classification logits are one ``(N, C)`` tensor.

        Args:
            logits: The recorded output.

        Returns:
            str, optional: The mismatch, or None.
        """
        if not isinstance(logits, Tensor):
            return f'recorded a {type(logits).__name__}, not a tensor'
        if logits.dim() != 2:
            return (f'recorded logits of shape {tuple(logits.shape)}, not '
                    '(N, C)')
        return None
