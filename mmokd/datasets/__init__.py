"""Datasets of mmokd, transforms and writers of tiny datasets in real
formats."""
from .offline_cifar import OfflineCIFAR100
from .random_split import RandomSplitDataset
from .tiny_datasets import (write_tiny_cifar100, write_tiny_cityscapes,
                            write_tiny_coco)
from .transforms import MultiViewPhotoMetricDistortion, PackMultiViewSegInputs

__all__ = [
    'MultiViewPhotoMetricDistortion', 'OfflineCIFAR100',
    'PackMultiViewSegInputs', 'RandomSplitDataset', 'write_tiny_cifar100',
    'write_tiny_cityscapes', 'write_tiny_coco'
]
