"""Semantic segmentation (mmseg) as an online distillation task."""
from typing import Any, List, Optional

import torch
from torch import Tensor, nn

from mmokd.registry import TASKS
from .base_task import BaseTask


@TASKS.register_module()
class SegTask(BaseTask):
    """``(N, C, h, w)`` softmax logits per image against an ``(N, H, W)``
    label map at any resolution.

    Label maps are resized to a logits grid by nearest neighbour (as mmseg
    does); logits of another size are resized bilinearly. Pixels labelled
    with a term's ``ignore_index`` (255 in mmseg) are left out.

    Example:
        >>> model = dict(type='mmokd.DML', task=dict(type='mmokd.SegTask'),
        ...              ...)
    """

    name = 'segmentation'
    is_dense = True
    activation = 'softmax'
    network_base = 'mmseg.models.segmentors.BaseSegmentor'
    logits_layout = '(N, C, h, w)'

    def labels(self, data_samples: List[Any]) -> Tensor:
        """``(N, H, W)`` label maps of mmseg ``SegDataSample`` items.

        Args:
            data_samples (list): Samples carrying ``gt_sem_seg``.

        Returns:
            Tensor: ``(N, H, W)`` labels.
        """
        if not data_samples or 'gt_sem_seg' not in data_samples[0]:
            raise KeyError('SegTask: the data samples carry no gt_sem_seg; '
                           'use a segmentation dataset (mmseg '
                           'PackSegInputs) or set model.task.')
        return torch.stack([s.gt_sem_seg.data[0]
                            for s in data_samples]).long()

    def num_classes(self, network: nn.Module) -> Optional[int]:
        """``network.decode_head.num_classes``.

        Args:
            network (nn.Module): A built segmentor.

        Returns:
            int, optional: The class count.
        """
        head = getattr(network, 'decode_head', None)
        return getattr(head, 'num_classes', None)
