"""Checks the images and labels of every split of a config's data.

Reads each sample of the train, val and test dataloaders' datasets with
the pipeline's own loading steps (no augmentation) and names every file
that cannot be read (missing, truncated, corrupt), every label map whose
size differs from its image, and every label outside ``[0, num_classes)``
that is not the ignore index. Exits with status 1 when anything is bad.

Usage: python tools/misc/check_dataset.py CONFIG [--workers 8]
       [--cfg-options train_dataloader.dataset.data_root=...]
"""
import argparse
import os
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import DATASETS, init_default_scope

import mmokd  # noqa: F401  (compatibility fixes, registration)
from mmokd.datasets.label_checks import leaf_datasets
from mmokd.datasets.sample_checks import check_dataset

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_args() -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        description='Check the images and labels of every split')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--workers',
        type=int,
        default=min(8, os.cpu_count() or 1),
        help='processes reading samples in parallel')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, xxx=yyy (applied last)')
    return parser.parse_args()


def main() -> int:
    """Checks every split; returns the exit status."""
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    checked = {}
    bad = 0
    for name in DATALOADERS:
        loader = cfg.get(name)
        if not loader or 'dataset' not in loader:
            continue
        key = repr(loader['dataset'])
        if key in checked:
            print(f'{name}: same dataset as {checked[key]}, checked above')
            continue
        checked[key] = name
        for dataset in leaf_datasets(DATASETS.build(loader['dataset'])):
            dataset.full_init()
            print(f'{name}: {type(dataset).__name__}, '
                  f'{len(dataset)} samples')
            problems = check_dataset(dataset, args.workers)
            for problem in problems:
                print(f'  BAD {problem}')
            print(f'{name}: {len(problems)} bad of {len(dataset)}')
            bad += len(problems)
    print(f'{bad} bad sample(s)' if bad else 'all samples are good')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
