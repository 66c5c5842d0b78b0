"""Checks a config before training starts, naming the field to fix."""
import os.path as osp
from typing import List, Optional

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


MULTI_VIEW_PREPROCESSORS = ('MultiViewClsDataPreprocessor',
                            'MultiViewSegDataPreProcessor')


def _pipeline_views(dataset: dict) -> Optional[int]:
    """Views per sample made by a dataset's pipeline (a transform with
    ``num_views``, e.g. mmpretrain's ``MultiView``), or None."""
    for key in ('dataset', 'datasets'):
        inner = dataset.get(key)
        for sub in (inner if isinstance(inner, list) else [inner]):
            if isinstance(sub, dict):
                views = _pipeline_views(sub)
                if views is not None:
                    return views
    for transform in dataset.get('pipeline') or []:
        views = transform.get('num_views') if isinstance(transform,
                                                         dict) else None
        if views is not None:
            return sum(views) if isinstance(views, (list, tuple)) else views
    return None


def check_views(cfg: Config) -> None:
    """Raises unless a multi-view training pipeline (one augmented view per
    network, as KDCL uses) meets a multi-view data preprocessor with as many
    views as the model has networks.

    Args:
        cfg (Config): The full training config.

    Raises:
        ValueError: Naming the field to change.
    """
    loader = cfg.get('train_dataloader') or {}
    views = _pipeline_views(loader.get('dataset') or {})
    if views is None:
        return
    model = cfg.get('model') or {}
    preprocessor = model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or {}
    kind = str(preprocessor.get('type', '')).split('.')[-1]
    if kind not in MULTI_VIEW_PREPROCESSORS:
        raise ValueError(
            f'model.data_preprocessor: train_dataloader.dataset.pipeline '
            f'gives {views} views per sample, but the preprocessor '
            f'"{kind or "default"}" takes one; use '
            'type="mmokd.MultiViewClsDataPreprocessor" (classification) or '
            '"mmokd.MultiViewSegDataPreProcessor" (segmentation) with '
            f'num_views={views}.')
    if preprocessor.get('num_views') != views:
        raise ValueError(
            f'model.data_preprocessor.num_views is '
            f'{preprocessor.get("num_views")} but '
            f'train_dataloader.dataset.pipeline gives {views} views per '
            'sample; make them equal.')
    peers = model.get('peers')
    if peers is not None and len(peers) != views:
        raise ValueError(
            f'train_dataloader.dataset.pipeline: {views} views per sample '
            f'for {len(peers)} networks (model.peers {list(peers)}); give '
            'one view per network.')
