"""Writes annotation files for mmpretrain's ``CustomDataset`` from the
official TinyImageNet-200 folder (MC-Distil's TinyImageNet configs).

Reads ``tiny-imagenet-200/`` as distributed (``wnids.txt``,
``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` with
``val/val_annotations.txt``; the unlabelled ``test/`` is not used) and
writes, under ``<root>/meta/``::

    classes.txt   one wnid per line; line i is label i (sorted wnids)
    train.txt     "train/<wnid>/images/<file> <label>" per training image
    val.txt       "val/images/<file> <label>" per validation image

Nothing is written when a file exists already. Usage::

    python tools/dataset_converters/tiny_imagenet.py data/tiny-imagenet-200
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Tuple


def read_classes(root: str) -> List[str]:
    """The sorted wnids of ``wnids.txt``.

    Args:
        root (str): The ``tiny-imagenet-200`` folder.

    Returns:
        list[str]: Class ids; the position is the label.
    """
    path = osp.join(root, 'wnids.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} does not exist: give the tiny-imagenet-200 folder as '
            'distributed (wnids.txt, train/, val/).')
    with open(path) as f:
        return sorted(line.strip() for line in f if line.strip())


def train_lines(root: str, labels: Dict[str, int]) -> List[str]:
    """Annotation lines of every training image.

    Args:
        root (str): The ``tiny-imagenet-200`` folder.
        labels (dict): ``{wnid: label}``.

    Returns:
        list[str]: ``"train/<wnid>/images/<file> <label>"``, sorted.
    """
    lines = []
    for wnid, label in labels.items():
        folder = osp.join('train', wnid, 'images')
        for name in sorted(os.listdir(osp.join(root, folder))):
            lines.append(f'{folder}/{name} {label}')
    return lines


def val_lines(root: str, labels: Dict[str, int]) -> List[str]:
    """Annotation lines of the official validation images.

    Args:
        root (str): The ``tiny-imagenet-200`` folder.
        labels (dict): ``{wnid: label}``.

    Returns:
        list[str]: ``"val/images/<file> <label>"``, sorted by file.
    """
    rows: List[Tuple[str, str]] = []
    with open(osp.join(root, 'val', 'val_annotations.txt')) as f:
        for line in f:
            fields = line.split('\t')
            if len(fields) >= 2:
                rows.append((fields[0], fields[1]))
    unknown = sorted({wnid for _, wnid in rows} - set(labels))
    if unknown:
        raise ValueError(f'val/val_annotations.txt names classes missing '
                         f'from wnids.txt: {unknown[:5]}')
    return [f'val/images/{name} {labels[wnid]}' for name, wnid in sorted(rows)]


def convert(root: str) -> Dict[str, str]:
    """Writes ``meta/{classes,train,val}.txt`` under ``root``.

    Args:
        root (str): The ``tiny-imagenet-200`` folder.

    Returns:
        dict: ``{name: path}`` of the written files.
    """
    classes = read_classes(root)
    labels = {wnid: i for i, wnid in enumerate(classes)}
    contents = dict(
        classes=classes,
        train=train_lines(root, labels),
        val=val_lines(root, labels))
    meta = osp.join(root, 'meta')
    paths = {name: osp.join(meta, f'{name}.txt') for name in contents}
    existing = [path for path in paths.values() if osp.exists(path)]
    if existing:
        raise FileExistsError(f'{existing} exist already; remove them to '
                              'write new annotation files.')
    os.makedirs(meta, exist_ok=True)
    for name, lines in contents.items():
        with open(paths[name], 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return paths


def main() -> None:
    """Parses the command line and writes the annotation files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='the tiny-imagenet-200 folder')
    for name, path in convert(parser.parse_args().root).items():
        print(f'{name}: {path}')


if __name__ == '__main__':
    main()
