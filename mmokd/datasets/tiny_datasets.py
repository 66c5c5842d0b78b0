"""Writes tiny datasets in the real Cityscapes, CIFAR-100 and COCO formats.

The images are drawn so that the labels are learnable (each class has its
own colour, plus noise): a few iterations of training move the metrics,
which makes the demo and the end-to-end tests meaningful.
"""
import json
import os
import os.path as osp
import pickle
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

CITYSCAPES_TRAIN_CITIES = ('aachen', 'bochum')
CITYSCAPES_VAL_CITIES = ('frankfurt', )
NUM_CITYSCAPES_CLASSES = 19
NUM_CIFAR100_CLASSES = 100
#: COCO 2017's 80 detection categories in id order: ``(first id, last id,
#: supercategory, names)`` runs of consecutive ids (ids 12, 26, 29, 30, 45,
#: 66, 68, 69, 71 and 83 are unused in COCO).
COCO_CATEGORY_RUNS = (
    (1, 1, 'person', ('person', )),
    (2, 9, 'vehicle', ('bicycle', 'car', 'motorcycle', 'airplane', 'bus',
                       'train', 'truck', 'boat')),
    (10, 11, 'outdoor', ('traffic light', 'fire hydrant')),
    (13, 15, 'outdoor', ('stop sign', 'parking meter', 'bench')),
    (16, 25, 'animal', ('bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
                        'elephant', 'bear', 'zebra', 'giraffe')),
    (27, 28, 'accessory', ('backpack', 'umbrella')),
    (31, 33, 'accessory', ('handbag', 'tie', 'suitcase')),
    (34, 43, 'sports', ('frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
                        'baseball bat', 'baseball glove', 'skateboard',
                        'surfboard', 'tennis racket')),
    (44, 44, 'kitchen', ('bottle', )),
    (46, 51, 'kitchen', ('wine glass', 'cup', 'fork', 'knife', 'spoon',
                         'bowl')),
    (52, 61, 'food', ('banana', 'apple', 'sandwich', 'orange', 'broccoli',
                      'carrot', 'hot dog', 'pizza', 'donut', 'cake')),
    (62, 65, 'furniture', ('chair', 'couch', 'potted plant', 'bed')),
    (67, 67, 'furniture', ('dining table', )),
    (70, 70, 'furniture', ('toilet', )),
    (72, 77, 'electronic', ('tv', 'laptop', 'mouse', 'remote', 'keyboard',
                            'cell phone')),
    (78, 82, 'appliance', ('microwave', 'oven', 'toaster', 'sink',
                           'refrigerator')),
    (84, 90, 'indoor', ('book', 'clock', 'vase', 'scissors', 'teddy bear',
                        'hair drier', 'toothbrush')),
)
#: Category ids drawn in the tiny COCO images (person, car, dog, bottle):
#: few classes, so a few iterations learn them; all 80 are declared.
TINY_COCO_DRAWN_IDS = (1, 3, 18, 44)


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


def coco_categories() -> List[dict]:
    """COCO 2017's 80 ``categories`` entries with their real ids.

    Returns:
        list[dict]: ``{'supercategory', 'id', 'name'}`` in id order.
    """
    categories = []
    for first, last, supercategory, names in COCO_CATEGORY_RUNS:
        categories += [
            dict(supercategory=supercategory, id=first + i, name=name)
            for i, name in enumerate(names)
        ]
    return categories


def _rectangle_rle(box: Tuple[int, int, int, int], width: int,
                   height: int) -> dict:
    """Uncompressed COCO RLE of a filled ``(x, y, w, h)`` rectangle.

    Run lengths alternate 0s and 1s over the mask in column-major order,
    starting with 0s (pycocotools' ``frPyObjects`` convention).
    """
    mask = np.zeros((height, width), dtype=np.uint8)
    x, y, w, h = box
    mask[y:y + h, x:x + w] = 1
    flat = mask.flatten(order='F')
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return dict(counts=counts, size=[height, width])


def _coco_boxes(rng: np.random.Generator, width: int, height: int,
                count: int) -> List[Tuple[int, int, int, int]]:
    """``count`` random ``(x, y, w, h)`` boxes of 16-96 px inside the
    image."""
    boxes = []
    for _ in range(count):
        w = int(rng.integers(16, min(96, width) + 1))
        h = int(rng.integers(16, min(96, height) + 1))
        x = int(rng.integers(0, width - w + 1))
        y = int(rng.integers(0, height - h + 1))
        boxes.append((x, y, w, h))
    return boxes


def _paint(pixels: np.ndarray, box: Tuple[int, int, int, int],
           colour: np.ndarray, rng: np.random.Generator) -> None:
    """Fills an ``(x, y, w, h)`` box of an ``(H, W, 3)`` image with a noisy
    class colour, in place."""
    x, y, w, h = box
    pixels[y:y + h, x:x + w] = colour + rng.normal(0, 15, size=(h, w, 3))


def _coco_split(root: str, split: str, image_ids: List[int],
                first_ann_id: int, size: Tuple[int, int],
                colours: Dict[int, np.ndarray],
                rng: np.random.Generator) -> dict:
    """Draws one split's images and returns its annotation file's
    content.

    Every image but the last of ``val`` holds 1-3 class-coloured
    rectangles on noise; the first image also holds one crowd region
    (``iscrowd=1``, RLE, painted beneath them), and the last ``val``
    image is empty.
    """
    width, height = size
    img_dir = osp.join(root, f'{split}2017')
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    ann_id = first_ann_id
    for index, image_id in enumerate(image_ids):
        file_name = f'{image_id:012d}.jpg'
        pixels = rng.normal(110, 30, size=(height, width, 3))
        if index == 0:
            crowd = _coco_boxes(rng, width, height, 1)[0]
            _paint(pixels, crowd, colours[TINY_COCO_DRAWN_IDS[0]], rng)
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=image_id,
                    category_id=TINY_COCO_DRAWN_IDS[0],
                    bbox=list(crowd),
                    area=crowd[2] * crowd[3],
                    iscrowd=1,
                    segmentation=_rectangle_rle(crowd, width, height)))
            ann_id += 1
        empty = split == 'val' and index == len(image_ids) - 1
        count = 0 if empty else int(rng.integers(1, 4))
        for x, y, w, h in _coco_boxes(rng, width, height, count):
            category = int(rng.choice(TINY_COCO_DRAWN_IDS))
            _paint(pixels, (x, y, w, h), colours[category], rng)
            annotations.append(
                dict(
                    id=ann_id,
                    image_id=image_id,
                    category_id=category,
                    bbox=[x, y, w, h],
                    area=w * h,
                    iscrowd=0,
                    segmentation=[[x, y, x + w, y, x + w, y + h, x,
                                   y + h]]))
            ann_id += 1
        image = np.clip(pixels, 0, 255).astype(np.uint8)
        Image.fromarray(image, 'RGB').save(
            osp.join(img_dir, file_name), quality=95)
        images.append(
            dict(
                id=image_id,
                file_name=file_name,
                width=width,
                height=height,
                license=1,
                date_captured='2017-01-01 00:00:00'))
    return dict(
        info=dict(
            description='mmokd tiny COCO (synthetic shapes)',
            version='1.0',
            year=2017,
            contributor='mmokd',
            date_created='2017/01/01'),
        licenses=[dict(id=1, name='synthetic', url='')],
        images=images,
        annotations=annotations,
        categories=coco_categories())


def write_tiny_coco(root: str,
                    num_train: int = 8,
                    num_val: int = 4,
                    size: Tuple[int, int] = (160, 128),
                    seed: int = 0) -> str:
    """Writes a COCO 2017 detection dataset that mmdet reads as is.

    Layout (as ``mmdet::_base_/datasets/coco_detection.py`` expects):
    ``annotations/instances_{train,val}2017.json`` and
    ``{train,val}2017/<12-digit image id>.jpg``. The files hold
    ``info``, ``licenses``, ``images``, ``annotations`` (``bbox`` as
    ``[x, y, w, h]``, ``area``, ``iscrowd``, polygon ``segmentation``, RLE
    for the crowd region) and all 80 COCO categories with their real ids
    and names. Images are class-coloured rectangles of 16-96 px on noise
    (person, car, dog and bottle only); each split has one crowd region,
    ``val``'s last image is empty, and every ``train`` image has a
    non-crowd box (mmdet's ``filter_empty_gt`` keeps them all). The output
    is byte-identical for a given seed.

    Args:
        root (str): Output folder (``data_root`` of the config).
        num_train (int): Training images (at least 1).
        num_val (int): Validation images (at least 2: one is empty).
        size (tuple[int, int]): ``(width, height)`` of every image, at
            least 96 x 96.
        seed (int): Random seed.

    Returns:
        str: ``root``.
    """
    if num_train < 1 or num_val < 2 or min(size) < 96:
        raise ValueError(
            'write_tiny_coco: needs num_train >= 1, num_val >= 2 and '
            f'images of at least 96 x 96, got {num_train}, {num_val}, '
            f'{tuple(size)}.')
    rng = np.random.default_rng(seed)
    palette = _class_colours(len(TINY_COCO_DRAWN_IDS), rng)
    colours = dict(zip(TINY_COCO_DRAWN_IDS, palette))
    ann_dir = osp.join(root, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    ids = {
        'train': list(range(1, num_train + 1)),
        'val': list(range(num_train + 1, num_train + num_val + 1)),
    }
    first_ann_id = 1
    for split in ('train', 'val'):
        content = _coco_split(root, split, ids[split], first_ann_id,
                              tuple(size), colours, rng)
        first_ann_id += len(content['annotations'])
        with open(osp.join(ann_dir, f'instances_{split}2017.json'),
                  'w') as f:
            json.dump(content, f)
    return root
