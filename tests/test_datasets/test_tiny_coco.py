"""The tiny COCO writer: mmdet reads it with the COCO settings, and its
ground truth scores a perfect box AP."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmokd.datasets import write_tiny_coco
from mmokd.models.builders.external_model import package_config_file
from mmokd.datasets.tiny_datasets import coco_categories
from tests.conftest import python, run_tool


def _annotations(root, split):
    with open(osp.join(root, 'annotations', f'instances_{split}2017.json')) \
            as f:
        return json.load(f)


def _coco_dataset_cfg(root, split):
    """``coco_detection.py``'s dataset of ``split``, ``data_root``
    replaced."""
    base = Config.fromfile(
        package_config_file('mmdet::_base_/datasets/coco_detection.py'))
    cfg = Config(dict(base[f'{split}_dataloader'].dataset)).to_dict()
    cfg['data_root'] = root + '/'
    return cfg


def test_categories_are_coco_ids_and_mmdet_names():
    from mmdet.datasets import CocoDataset
    categories = coco_categories()
    ids = [c['id'] for c in categories]
    assert len(ids) == 80 and ids[0] == 1 and ids[-1] == 90
    assert not {12, 26, 29, 30, 45, 66, 68, 69, 71, 83} & set(ids)
    assert tuple(c['name'] for c in categories) == \
        CocoDataset.METAINFO['classes']
    assert categories[39] == dict(
        supercategory='kitchen', id=44, name='bottle')


def test_layout_and_annotations(tiny_coco):
    for split, count in (('train', 8), ('val', 4)):
        content = _annotations(tiny_coco, split)
        assert set(content) == {
            'info', 'licenses', 'images', 'annotations', 'categories'
        }
        assert content['categories'] == coco_categories()
        names = sorted(os.listdir(osp.join(tiny_coco, f'{split}2017')))
        assert names == sorted(i['file_name'] for i in content['images'])
        assert len(names) == count and all(
            len(n) == len('000000000001.jpg') for n in names)
        annotations = content['annotations']
        crowd = [a for a in annotations if a['iscrowd']]
        assert len(crowd) == 1
        with_boxes = {a['image_id'] for a in annotations if not a['iscrowd']}
        image_ids = [i['id'] for i in content['images']]
        if split == 'train':
            assert with_boxes == set(image_ids)
        else:
            empty = set(image_ids) - {a['image_id'] for a in annotations}
            assert empty == {image_ids[-1]}
        for a in annotations:
            x, y, w, h = a['bbox']
            assert 16 <= w <= 96 and 16 <= h <= 96
            assert x + w <= 160 and y + h <= 128
            assert a['area'] == w * h


def test_crowd_rle_and_polygons_decode_to_their_boxes(tiny_coco):
    from pycocotools import mask as mask_utils
    content = _annotations(tiny_coco, 'train')
    for a in content['annotations']:
        x, y, w, h = a['bbox']
        rles = mask_utils.frPyObjects(a['segmentation'], 128, 160)
        if not a['iscrowd']:
            rles = mask_utils.merge(rles)
        mask = mask_utils.decode(rles)
        expected = np.zeros((128, 160), np.uint8)
        expected[y:y + h, x:x + w] = 1
        if a['iscrowd']:
            np.testing.assert_array_equal(mask, expected)
        else:  # polygons rasterise the box up to its border pixels
            assert abs(int(mask.sum()) - w * h) <= w + h + 1
            assert mask[y + 1:y + h - 1, x + 1:x + w - 1].all()


def test_byte_identical_per_seed(tmp_path):
    def files(root):
        return {
            osp.relpath(osp.join(d, n), root):
            open(osp.join(d, n), 'rb').read()
            for d, _, names in os.walk(root) for n in names
        }

    a = files(write_tiny_coco(str(tmp_path / 'a'), 2, 2))
    b = files(write_tiny_coco(str(tmp_path / 'b'), 2, 2))
    c = files(write_tiny_coco(str(tmp_path / 'c'), 2, 2, seed=1))
    assert a == b and len(a) == 6
    assert a != c


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match='num_val >= 2'):
        write_tiny_coco(str(tmp_path), num_val=1)


def test_mmdet_coco_dataset_reads_it(tiny_coco):
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        train = DATASETS.build(_coco_dataset_cfg(tiny_coco, 'train'))
        val = DATASETS.build(_coco_dataset_cfg(tiny_coco, 'val'))
    assert len(train) == 8  # filter_empty_gt keeps every train image
    sample = train[0]
    assert tuple(sample['inputs'].shape[1:]) == (800, 1000)  # 1333x800
    instances = sample['data_samples'].gt_instances
    assert len(instances) >= 1
    assert set(instances.labels.tolist()) <= {0, 2, 16, 39}
    assert len(val) == 4


def test_ground_truth_as_predictions_scores_map_1(tiny_coco):
    from mmdet.evaluation import CocoMetric
    content = _annotations(tiny_coco, 'val')
    metric = CocoMetric(
        ann_file=osp.join(tiny_coco, 'annotations/instances_val2017.json'),
        metric='bbox')
    metric.dataset_meta = dict(classes=tuple(
        c['name'] for c in coco_categories()))
    label_of = {c['id']: i for i, c in enumerate(coco_categories())}
    samples = []
    for image in content['images']:
        boxes = [
            a for a in content['annotations']
            if a['image_id'] == image['id'] and not a['iscrowd']
        ]
        xyxy = [[x, y, x + w, y + h] for x, y, w, h in
                (a['bbox'] for a in boxes)]
        samples.append(
            dict(
                img_id=image['id'],
                ori_shape=(image['height'], image['width']),
                pred_instances=dict(
                    bboxes=torch.tensor(xyxy, dtype=torch.float32).reshape(
                        -1, 4),
                    scores=torch.ones(len(boxes)),
                    labels=torch.tensor(
                        [label_of[a['category_id']] for a in boxes],
                        dtype=torch.long))))
    metric.process({}, samples)
    results = metric.evaluate(len(samples))
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)
    assert results['coco/bbox_mAP_50'] == pytest.approx(1.0)


def test_make_tiny_datasets_coco(tmp_path):
    out = str(tmp_path / 'coco')
    proc = run_tool([
        python(), 'tools/dataset_converters/make_tiny_datasets.py', 'coco',
        out, '--num-coco-train', '3', '--num-coco-val', '2'
    ])
    assert proc.returncode == 0, proc.stderr
    assert len(os.listdir(osp.join(out, 'train2017'))) == 3
    assert len(_annotations(out, 'val')['images']) == 2
