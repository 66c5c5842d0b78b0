"""A seeded, reproducible split of a dataset into two disjoint parts."""
from typing import Any, List, Union

import torch
from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS as MMENGINE_DATASETS

from mmokd.registry import DATASETS

SPLIT_PARTS = ('train', 'held_out')


@DATASETS.register_module()
class RandomSplitDataset:
    """One part of a seeded random split of ``dataset``.

    ``num_held_out`` items, drawn by a permutation seeded with ``seed``,
    form the ``'held_out'`` part and the rest the ``'train'`` part; the
    two configs of a pair (same ``dataset``, ``num_held_out`` and
    ``seed``) are disjoint, cover the dataset, and are the same in every
    run and on every rank. MC-Distil (Tambat et al., TMLR 2025) holds out
    5,000 of CIFAR-100's 50,000 training images as its meta set (the
    reference's ``random_split(train, [45000, 5000])``; its permutation
    is torch's global RNG, this one is a fixed generator, so the images
    chosen differ).

    Config example (the two parts of CIFAR-100's training set)::

        cifar_train = dict(type='mmokd.OfflineCIFAR100', data_root=...,
                           split='train', pipeline=train_pipeline)
        train_dataloader = dict(dataset=dict(
            type='mmokd.RandomSplitDataset', dataset=cifar_train,
            num_held_out=5000, part='train'))
        meta = dict(type='mmokd.RandomSplitDataset', dataset=cifar_train,
                    num_held_out=5000, part='held_out')

    Args:
        dataset (dict | BaseDataset): The dataset, or its config.
        num_held_out (int): Items in the ``'held_out'`` part, at least 1
            and fewer than the dataset's.
        part (str): ``'train'`` or ``'held_out'``. Defaults to
            ``'train'``.
        seed (int): Seed of the permutation. Defaults to 0.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 num_held_out: int,
                 part: str = 'train',
                 seed: int = 0) -> None:
        if part not in SPLIT_PARTS:
            raise ValueError(f'RandomSplitDataset.part must be one of '
                             f'{list(SPLIT_PARTS)}, got {part!r}.')
        if isinstance(dataset, dict):
            dataset = MMENGINE_DATASETS.build(dataset)
        self.dataset = dataset
        total = len(dataset)
        if isinstance(num_held_out, bool) or \
                not isinstance(num_held_out, int) or \
                not 0 < num_held_out < total:
            raise ValueError(
                'RandomSplitDataset.num_held_out must be an integer in '
                f'[1, {total - 1}] for a dataset of {total} items, got '
                f'{num_held_out!r}.')
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(total, generator=generator)
        chosen = order[:num_held_out] if part == 'held_out' \
            else order[num_held_out:]
        self.indices: List[int] = sorted(chosen.tolist())
        self.part = part

    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's meta information (classes, ...)."""
        return self.dataset.metainfo

    def full_init(self) -> None:
        """Fully initialises the wrapped dataset (mmengine's lazy init)."""
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def get_data_info(self, idx: int) -> dict:
        """Annotation of the ``idx``-th item of this part.

        Args:
            idx (int): Index within this part.

        Returns:
            dict: The wrapped dataset's annotation of that item.
        """
        return self.dataset.get_data_info(self.indices[idx])

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int) -> Any:
        return self.dataset[self.indices[idx]]
