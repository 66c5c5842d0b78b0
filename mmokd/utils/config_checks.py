"""Checks a config before training starts, naming the field to fix."""
import os.path as osp
from typing import List

from mmengine.config import Config

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _dataset_roots(dataset: dict) -> List[str]:
    """Folders a dataset config reads: ``data_root`` joined with every
    ``data_prefix`` entry (or the wrapped datasets' folders)."""
    if 'datasets' in dataset:
        return [
            root for sub in dataset['datasets'] for root in _dataset_roots(sub)
        ]
    if 'dataset' in dataset:
        return _dataset_roots(dataset['dataset'])
    root = dataset.get('data_root') or ''
    prefix = dataset.get('data_prefix') or {}
    if isinstance(prefix, str):
        prefix = dict(root=prefix)
    paths = [
        osp.join(root, p) for p in prefix.values() if isinstance(p, str) and p
    ]
    return paths or ([root] if root else [])


def check_dataset_folders(cfg: Config) -> None:
    """Raises if a dataloader's dataset folder does not exist.

    Args:
        cfg (Config): The full training config.

    Raises:
        FileNotFoundError: Naming the dataloader field, the missing folder
            and how to provide it.
    """
    for name in DATALOADERS:
        loader = cfg.get(name)
        if not loader or 'dataset' not in loader:
            continue
        for folder in _dataset_roots(loader['dataset']):
            if '://' in folder or osp.isdir(folder):
                continue
            raise FileNotFoundError(
                f'{name}.dataset: folder "{folder}" does not exist. Prepare '
                'the dataset there (tools/dataset_converters/'
                'make_tiny_datasets.py writes a tiny one) or point '
                f'--cfg-options {name}.dataset.data_root=<folder> to it.')
