"""Data preprocessors that keep one augmented view per network."""
from typing import List, Optional, Sequence, Union

from mmpretrain.models import ClsDataPreprocessor
from mmseg.models import SegDataPreProcessor
from torch import Tensor

from mmokd.registry import MODELS

Inputs = Union[Tensor, Sequence]


def split_views(inputs: Inputs, num_views: int) -> Optional[List[Inputs]]:
    """The batch's inputs regrouped per view, or None for one view.

    Multi-view pipelines (``mmpretrain.MultiView``,
    ``mmokd.MultiViewPhotoMetricDistortion``) give each sample a list of
    views, which the collate functions transpose: ``pseudo_collate``
    gives a list of views, each a list of ``(C, H, W)`` images,
    ``default_collate`` a list of batched ``(N, C, H, W)`` views. One view
    is a tensor or a list of ``(C, H, W)`` images.

    Args:
        inputs (Tensor | list): ``data['inputs']`` from the dataloader.
        num_views (int): Expected number of views.

    Returns:
        list | None: ``num_views`` inputs, each as a single-view
        preprocessor expects them; None if ``inputs`` has one view.

    Raises:
        ValueError: The samples carry another number of views.
    """
    if isinstance(inputs, Tensor) or (isinstance(inputs[0], Tensor)
                                      and inputs[0].dim() == 3):
        return None
    views = list(inputs)
    if len(views) != num_views:
        raise ValueError(
            f'model.data_preprocessor.num_views is {num_views} but the '
            f'pipeline gives {len(views)} views per sample; make them '
            'equal (one view per network).')
    return views


class _PerViewPreprocessing:
    """Runs the single-view preprocessor next in the MRO on every view.

    Batch augments (Mixup, CutMix) are refused: they would mix labels
    differently in each view, while all views share one label.
    """

    def __init__(self, num_views: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.batch_augments is not None:
            raise ValueError(
                'model.data_preprocessor.batch_augments: Mixup / CutMix mix '
                'each view with other samples and labels, but the views of '
                'a multi-view batch share one label. Remove batch_augments '
                '(or use a single-view preprocessor).')
        self.num_views = num_views

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocesses every view like a single-view batch.

        Args:
            data (dict): A dataloader batch.
            training (bool): Training mode.

        Returns:
            dict: ``inputs`` (a tensor, or a list of one tensor per view)
            and ``data_samples``.
        """
        views = split_views(data['inputs'], self.num_views)
        if views is None:
            return super().forward(data, training)
        outputs = []
        for view in views:
            outputs.append(super().forward(dict(data, inputs=view), training))
        return dict(
            inputs=[out['inputs'] for out in outputs],
            data_samples=outputs[0]['data_samples'])


@MODELS.register_module()
class MultiViewClsDataPreprocessor(_PerViewPreprocessing, ClsDataPreprocessor):
    """mmpretrain's ``ClsDataPreprocessor`` applied to each view.

    With ``mmpretrain.MultiView(num_views=M)`` in the training pipeline,
    ``inputs`` becomes a list of ``M`` preprocessed ``(N, 3, H, W)``
    batches (view ``i`` for network ``i`` in KDCL); labels are shared.
    Single-view batches (validation, test) are processed as by the parent.

    Config example::

        data_preprocessor = dict(
            type='mmokd.MultiViewClsDataPreprocessor', num_views=2,
            num_classes=100, mean=[129.304, 124.070, 112.434],
            std=[68.170, 65.392, 70.418])

    Args:
        num_views (int): Views per sample (number of networks).
        **kwargs: Arguments of ``ClsDataPreprocessor``; ``batch_augments``
            is refused.
    """


@MODELS.register_module()
class MultiViewSegDataPreProcessor(_PerViewPreprocessing, SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` applied to each view.

    For pipelines ending with ``mmokd.MultiViewPhotoMetricDistortion`` and
    ``mmokd.PackMultiViewSegInputs``: ``inputs`` becomes a list of one
    ``(N, 3, H, W)`` batch per view, all padded alike, with one shared set
    of label maps (the views differ only photometrically, so pixels stay
    aligned; padding the shared label maps again is a no-op). Single-view
    batches are processed as by the parent.

    Config example::

        data_preprocessor = dict(
            type='mmokd.MultiViewSegDataPreProcessor', num_views=2,
            mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(512, 1024))

    Args:
        num_views (int): Views per sample (number of networks).
        **kwargs: Arguments of ``SegDataPreProcessor``; ``batch_augments``
            is refused.
    """
