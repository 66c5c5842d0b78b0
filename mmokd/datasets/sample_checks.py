"""Reads every sample of a dataset as training does, without augmenting,
and reports the ones that cannot be trained on."""
import multiprocessing
from typing import Any, Callable, List, Optional

from mmengine.utils import ProgressBar

from .label_checks import (describe_labels, describe_sample, invalid_labels,
                           label_space)

# The dataset checked by the pool's worker processes (set once per worker).
_worker_dataset = None


def loading_transforms(dataset: Any) -> List[Callable]:
    """The dataset pipeline's loading steps (``LoadImageFromFile``,
    ``LoadAnnotations``, ...), with the pipeline's own settings (decoding
    backend, ``reduce_zero_label``)."""
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms', [])
    return [t for t in transforms if type(t).__name__.startswith('Load')]


def check_sample(dataset: Any, index: int) -> Optional[str]:
    """Loads one sample's image and labels and checks them.

    A sample is bad when a loading step fails (unreadable or truncated
    file), its label map and image differ in size, or a label is outside
    the dataset's classes and not its ignore index.

    Args:
        dataset: A built mmseg / mmpretrain dataset (no wrapper).
        index (int): The sample's index.

    Returns:
        str, optional: What is wrong, naming the sample's files; None when
        the sample is good.
    """
    results = dataset.get_data_info(index)
    name = describe_sample(results)
    try:
        for transform in loading_transforms(dataset):
            results = transform(results)
            if results is None:
                return f'{name}: {type(transform).__name__} read nothing'
    except Exception as error:  # any failure to read is the finding
        return f'{name}: {type(error).__name__}: {error}'
    problems = []
    image, label_map = results.get('img'), results.get('gt_seg_map')
    if image is not None and label_map is not None and \
            image.shape[:2] != label_map.shape[:2]:
        problems.append(f'label map of size {label_map.shape[:2]} for an '
                        f'image of size {image.shape[:2]}')
    labels = label_map if label_map is not None else results.get('gt_label')
    space = label_space(dataset)
    if space is not None and labels is not None:
        values = invalid_labels(labels, space)
        if values:
            problems.append(describe_labels(values, space))
    return f"{name}: {'; '.join(problems)}" if problems else None


def _init_worker(dataset: Any) -> None:
    """Keeps the dataset in a pool worker."""
    global _worker_dataset
    _worker_dataset = dataset


def _check_in_worker(index: int) -> Optional[str]:
    """``check_sample`` on the worker's dataset."""
    return check_sample(_worker_dataset, index)


def check_dataset(dataset: Any, workers: int = 1) -> List[str]:
    """Checks every sample of a dataset, with a progress bar.

    Args:
        dataset: A built dataset (no wrapper).
        workers (int): Processes reading samples in parallel.

    Returns:
        list[str]: One line per bad sample, in index order.
    """
    progress = ProgressBar(len(dataset))
    indices = range(len(dataset))
    found = []
    if workers > 1:
        context = multiprocessing.get_context('fork')
        with context.Pool(workers, _init_worker, (dataset, )) as pool:
            for problem in pool.imap(_check_in_worker, indices, chunksize=8):
                found.append(problem)
                progress.update()
    else:
        for index in indices:
            found.append(check_sample(dataset, index))
            progress.update()
    print()
    return [problem for problem in found if problem]
