"""Writes tiny Cityscapes / CIFAR-100 / COCO datasets in their real formats.

Used by the demo and the tests::

    python tools/dataset_converters/make_tiny_datasets.py cityscapes \
        data/tiny_cityscapes
    python tools/dataset_converters/make_tiny_datasets.py cifar100 \
        data/tiny_cifar100
    python tools/dataset_converters/make_tiny_datasets.py coco \
        data/tiny_coco
"""
import argparse

from mmokd.datasets import (write_tiny_cifar100, write_tiny_cityscapes,
                            write_tiny_coco)


def main() -> None:
    """Parses the command line and writes the dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('kind', choices=['cityscapes', 'cifar100', 'coco'])
    parser.add_argument('out', help='output folder (the data_root)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--images-per-city',
        type=int,
        default=2,
        help='cityscapes: images per city (2 train cities, 1 val city)')
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        default=None,
        metavar=('WIDTH', 'HEIGHT'),
        help='cityscapes / coco: image size (default 128 x 64 / 160 x 128)')
    parser.add_argument(
        '--num-train', type=int, default=64, help='cifar100: training images')
    parser.add_argument(
        '--num-test', type=int, default=32, help='cifar100: test images')
    parser.add_argument(
        '--num-coco-train', type=int, default=8, help='coco: train images')
    parser.add_argument(
        '--num-coco-val', type=int, default=4, help='coco: val images')
    args = parser.parse_args()
    if args.kind == 'cityscapes':
        write_tiny_cityscapes(args.out, args.images_per_city,
                              tuple(args.size or (128, 64)), args.seed)
    elif args.kind == 'coco':
        write_tiny_coco(args.out, args.num_coco_train, args.num_coco_val,
                        tuple(args.size or (160, 128)), args.seed)
    else:
        write_tiny_cifar100(args.out, args.num_train, args.num_test, args.seed)
    print(args.out)


if __name__ == '__main__':
    main()
