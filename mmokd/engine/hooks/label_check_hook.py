"""Stops at the first batch with an invalid label, naming its file."""
from typing import Optional, Sequence

from mmengine.hooks import Hook

from mmokd.datasets.label_checks import (LabelSpace, describe_labels,
                                         describe_sample, invalid_labels,
                                         label_space)
from mmokd.models.tasks import BaseTask
from mmokd.models.utils import unwrap
from mmokd.registry import HOOKS


@HOOKS.register_module()
class LabelCheckHook(Hook):
    """Checks every training and validation batch's labels.

    A label outside ``[0, num_classes)`` that is not the ignore index
    otherwise fails inside a loss as ``IndexError: Target 30 is out of
    bounds`` (a device-side assert on GPU) without naming the file, or is
    silently dropped by a metric. This hook raises before the forward pass
    instead, naming the sample's ``img_path`` / ``seg_map_path`` (or
    ``sample_idx``) and pointing to ``tools/misc/check_dataset.py``, which
    checks a whole dataset. Classes come from the dataset's
    ``metainfo['classes']``, the ignore index from the dataset (mmseg).
    The cost is one comparison over the batch's labels on the CPU.
    ``tools/train.py`` adds it to every run.

    Example:
        >>> custom_hooks = [dict(type='mmokd.LabelCheckHook')]
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._spaces = dict(train=None, val=None)
        self._task: Optional[BaseTask] = None

    def before_train(self, runner) -> None:
        """Reads the training set's label space and the model's task,
        which reads the labels of a sample.

        Args:
            runner (Runner): The runner.
        """
        self._read(runner, 'train', runner.train_dataloader)

    def before_val(self, runner) -> None:
        """Reads the validation set's label space and the model's task.

        Args:
            runner (Runner): The runner.
        """
        self._read(runner, 'val', runner.val_loop.dataloader)

    def _read(self, runner, mode: str, dataloader) -> None:
        """Stores the label space of ``dataloader`` for ``mode`` batches
        and the model's task.

        Args:
            runner (Runner): The runner.
            mode (str): ``'train'`` or ``'val'``.
            dataloader (DataLoader): The mode's dataloader.
        """
        self._spaces[mode] = label_space(dataloader.dataset)
        self._task = unwrap(runner.model).task

    def _before_iter(self,
                     runner,
                     batch_idx: int,
                     data_batch: Optional[dict] = None,
                     mode: str = 'train') -> None:
        """Checks a training or validation batch (mmengine's
        ``before_train_iter`` and ``before_val_iter`` call this; test
        batches have no label space and are not checked).

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the epoch.
            data_batch (dict, optional): The batch from the dataloader.
            mode (str): ``'train'``, ``'val'`` or ``'test'``.
        """
        self._check(
            self._spaces.get(mode), self._task, data_batch,
            f'{mode}_dataloader')

    @staticmethod
    def _check(space: Optional[LabelSpace], task: Optional[BaseTask],
               data_batch: Optional[dict], loader: str) -> None:
        """Raises on the first sample with an invalid label.

        Args:
            space (LabelSpace, optional): Valid labels (None: no check).
            task (BaseTask, optional): Reads a sample's labels (None: no
                check).
            data_batch (dict, optional): The batch.
            loader (str): The dataloader's config field, for the message.

        Raises:
            ValueError: Naming the sample's files and the invalid values.
        """
        if space is None or task is None or not data_batch:
            return
        samples: Sequence = data_batch.get('data_samples') or []
        for sample in samples:
            values = invalid_labels(task.labels([sample]), space)
            if values:
                raise ValueError(
                    f'{loader}: {describe_labels(values, space)} in '
                    f'{describe_sample(sample.metainfo)}. Fix the file or '
                    "the dataset's classes; tools/misc/check_dataset.py "
                    'CONFIG checks every file of every split.')
