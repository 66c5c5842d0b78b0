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


def _check_views_kept(preprocessor: dict, kind: str) -> None:
    """Raises if a multi-view preprocessor expecting several views meets a
    single-view training pipeline (e.g. a KDCL config whose
    ``train_pipeline`` was replaced the way a DML config sets it, which
    drops the ``MultiView`` wrapper: every network would then train on the
    same view, silently)."""
    expected = preprocessor.get('num_views')
    if kind not in MULTI_VIEW_PREPROCESSORS or not expected or expected < 2:
        return
    raise ValueError(
        'train_dataloader.dataset.pipeline: it makes one view per sample, '
        f'but model.data_preprocessor ({kind}) expects num_views={expected} '
        '(one augmented view per network, as KDCL uses), so every network '
        'would train on the same view. To keep one view per network, wrap '
        'the transforms: pipeline=[dict(type="MultiView", '
        f'num_views={expected}, transforms=[<transforms before '
        'PackInputs>]), dict(type="PackInputs")] (segmentation: end with '
        f'mmokd.MultiViewPhotoMetricDistortion(num_views={expected}) and '
        'mmokd.PackMultiViewSegInputs). To share one view on purpose, set '
        'model.data_preprocessor.num_views=1.')


def check_views(cfg: Config) -> None:
    """Raises unless a multi-view training pipeline (one augmented view per
    network, as KDCL uses) meets a multi-view data preprocessor with as many
    views as the model has networks, and unless a multi-view preprocessor
    expecting several views gets a multi-view pipeline.

    Args:
        cfg (Config): The full training config.

    Raises:
        ValueError: Naming the field to change.
    """
    loader = cfg.get('train_dataloader') or {}
    views = _pipeline_views(loader.get('dataset') or {})
    model = cfg.get('model') or {}
    preprocessor = model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or {}
    kind = str(preprocessor.get('type', '')).split('.')[-1]
    if views is None:
        _check_views_kept(preprocessor, kind)
        return
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
