"""Which label values a dataset may hold, and naming a sample's files."""
from typing import Any, List, Mapping, NamedTuple, Optional

import numpy as np

# Metainfo keys naming a sample, in the order they are reported.
SAMPLE_KEYS = ('img_path', 'seg_map_path', 'sample_idx')


class LabelSpace(NamedTuple):
    """Valid labels: ``[0, num_classes)`` plus the ignore index, if any."""
    num_classes: int
    ignore_index: Optional[int] = None


def leaf_datasets(dataset: Any) -> List[Any]:
    """The datasets inside dataset wrappers (``RepeatDataset``,
    ``ConcatDataset``, ``ClassBalancedDataset``), or the dataset itself.

    Args:
        dataset: A built dataset.

    Returns:
        list: The innermost datasets, each once.
    """
    if hasattr(dataset, 'datasets'):
        return [
            leaf for sub in dataset.datasets for leaf in leaf_datasets(sub)
        ]
    if hasattr(dataset, 'dataset'):
        return leaf_datasets(dataset.dataset)
    return [dataset]


def label_space(dataset: Any) -> Optional[LabelSpace]:
    """The label space of an mmseg / mmpretrain dataset.

    Args:
        dataset: A built dataset (wrappers allowed).

    Returns:
        LabelSpace, optional: From ``metainfo['classes']`` and the dataset's
        ``ignore_index`` (mmseg; 255 by default); None when the dataset
        names no classes.
    """
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    if not classes:
        return None
    return LabelSpace(
        len(classes),
        getattr(leaf_datasets(dataset)[0], 'ignore_index', None))


def invalid_labels(labels: Any, space: LabelSpace) -> List[int]:
    """The label values outside ``space``.

    Args:
        labels: Class indices or a label map (numpy array, CPU tensor, int
            or list).
        space (LabelSpace): The valid labels.

    Returns:
        list[int]: The distinct invalid values, sorted (empty when all are
        valid).
    """
    values = np.asarray(labels)
    bad = (values < 0) | (values >= space.num_classes)
    if space.ignore_index is not None:
        bad &= values != space.ignore_index
    if not bad.any():
        return []
    return np.unique(values[bad]).tolist()


def describe_labels(values: List[int], space: LabelSpace) -> str:
    """``label 30 outside [0, 19) and not the ignore index 255``.

    Args:
        values (list[int]): Invalid label values.
        space (LabelSpace): The valid labels.

    Returns:
        str: The description.
    """
    shown = ', '.join(map(str, values[:10])) + (
        ', ...' if len(values) > 10 else '')
    text = (f"label{'s' if len(values) > 1 else ''} {shown} outside "
            f'[0, {space.num_classes})')
    if space.ignore_index is not None:
        text += f' and not the ignore index {space.ignore_index}'
    return text


def describe_sample(info: Mapping) -> str:
    """Names a sample by its files (or index for in-memory datasets).

    Args:
        info (Mapping): A data info or a data sample's metainfo.

    Returns:
        str: E.g. ``img_path=a.png, seg_map_path=a_gt.png``.
    """
    return ', '.join(f'{key}={info[key]}' for key in SAMPLE_KEYS
                     if info.get(key) is not None) or 'unnamed sample'
