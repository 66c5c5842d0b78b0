"""Datasets of mmokd and writers of tiny datasets in real formats."""
from .offline_cifar import OfflineCIFAR100
from .tiny_datasets import write_tiny_cifar100, write_tiny_cityscapes

__all__ = ['OfflineCIFAR100', 'write_tiny_cifar100', 'write_tiny_cityscapes']
