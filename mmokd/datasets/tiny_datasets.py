"""Writes tiny datasets in the real Cityscapes and CIFAR-100 formats.

The images are drawn so that the labels are learnable (each class has its
own colour, plus noise): a few iterations of training move the metrics,
which makes the demo and the end-to-end tests meaningful.
"""
import os
import os.path as osp
import pickle
from typing import Tuple

import numpy as np
from PIL import Image

CITYSCAPES_TRAIN_CITIES = ('aachen', 'bochum')
CITYSCAPES_VAL_CITIES = ('frankfurt', )
NUM_CITYSCAPES_CLASSES = 19
NUM_CIFAR100_CLASSES = 100


def _class_colours(num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """A distinct random RGB colour per class."""
    return rng.integers(0, 256, size=(num_classes, 3), dtype=np.int64)


def _cityscapes_pair(
        width: int, height: int, colours: np.ndarray,
        rng: np.random.Generator) -> Tuple[Image.Image, Image.Image]:
    """One image and its train-id label map: class blocks plus an ignore
    band."""
    label = np.empty((height, width), dtype=np.uint8)
    block = max(width // 8, 1)
    for x0 in range(0, width, block):
        for y0 in range(0, height, block):
            label[y0:y0 + block,
                  x0:x0 + block] = rng.integers(0, NUM_CITYSCAPES_CLASSES)
    label[-max(height // 16, 1):] = 255
    image = colours[np.minimum(label, NUM_CITYSCAPES_CLASSES - 1)]
    image = image + rng.normal(0, 20, size=image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    return Image.fromarray(image, 'RGB'), Image.fromarray(label, 'L')


def write_tiny_cityscapes(root: str,
                          images_per_city: int = 2,
                          size: Tuple[int, int] = (128, 64),
                          seed: int = 0) -> str:
    """Writes a Cityscapes-format dataset that mmseg reads as is.

    Layout (as produced by mmseg's ``tools/dataset_converters/
    cityscapes.py``): ``leftImg8bit/{train,val}/<city>/<city>_<seq>_
    000019_leftImg8bit.png`` (RGB) and ``gtFine/{train,val}/<city>/...
    _gtFine_labelTrainIds.png`` (8-bit, 0..18, 255 = ignore).

    Args:
        root (str): Output folder (``data_root`` of the config).
        images_per_city (int): Images per city; train has two cities, val
            one.
        size (tuple[int, int]): ``(width, height)`` of every image.
        seed (int): Random seed.

    Returns:
        str: ``root``.
    """
    rng = np.random.default_rng(seed)
    colours = _class_colours(NUM_CITYSCAPES_CLASSES, rng)
    splits = (('train', CITYSCAPES_TRAIN_CITIES), ('val',
                                                   CITYSCAPES_VAL_CITIES))
    for split, cities in splits:
        for city in cities:
            img_dir = osp.join(root, 'leftImg8bit', split, city)
            ann_dir = osp.join(root, 'gtFine', split, city)
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(ann_dir, exist_ok=True)
            for index in range(images_per_city):
                stem = f'{city}_{index:06d}_000019'
                image, label = _cityscapes_pair(*size, colours, rng)
                image.save(osp.join(img_dir, f'{stem}_leftImg8bit.png'))
                label.save(
                    osp.join(ann_dir, f'{stem}_gtFine_labelTrainIds.png'))
    return root


def _cifar_split(num_images: int, colours: np.ndarray,
                 rng: np.random.Generator) -> dict:
    """One CIFAR-100 python-format split with learnable images."""
    labels = rng.integers(0, NUM_CIFAR100_CLASSES, size=num_images)
    images = colours[labels][:, :, None, None] + rng.normal(
        0, 25, size=(num_images, 3, 32, 32))
    data = np.clip(images, 0, 255).astype(np.uint8).reshape(num_images, -1)
    return {
        'data': data,
        'fine_labels': labels.tolist(),
        'coarse_labels': (labels // 5).tolist(),
    }


def write_tiny_cifar100(root: str,
                        num_train: int = 64,
                        num_test: int = 32,
                        seed: int = 0) -> str:
    """Writes ``cifar-100-python/{train,test,meta}`` pickles.

    Same format as the official python version (latin-1 pickles, uint8
    ``N x 3072`` channel-planar RGB, ``fine_labels``); only the checksums
    differ, so read it with ``mmokd.OfflineCIFAR100(check_md5=False)``.

    Args:
        root (str): Output folder (``data_root`` of the config).
        num_train (int): Training images.
        num_test (int): Test images.
        seed (int): Random seed.

    Returns:
        str: ``root``.
    """
    rng = np.random.default_rng(seed)
    colours = _class_colours(NUM_CIFAR100_CLASSES, rng)
    folder = osp.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    for name, count in (('train', num_train), ('test', num_test)):
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump(_cifar_split(count, colours, rng), f)
    meta = {
        'fine_label_names':
        [f'class_{i}' for i in range(NUM_CIFAR100_CLASSES)],
        'coarse_label_names': [f'superclass_{i}' for i in range(20)],
    }
    with open(osp.join(folder, 'meta'), 'wb') as f:
        pickle.dump(meta, f)
    return root
