"""Label validity, the per-batch label check and the per-sample check."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample

from mmokd.datasets import OfflineCIFAR100, write_tiny_cifar100
from mmokd.datasets.label_checks import (LabelSpace, describe_labels,
                                         invalid_labels)
from mmokd.datasets.sample_checks import check_dataset
from mmokd.engine.hooks import LabelCheckHook
from mmokd.models.tasks import ClsTask, SegTask

CITYSCAPES = LabelSpace(19, 255)


def test_invalid_labels():
    label_map = np.zeros((4, 4), np.uint8)
    label_map[0, :2] = (255, 18)
    assert invalid_labels(label_map, CITYSCAPES) == []
    label_map[1, :3] = (30, 19, 30)
    assert invalid_labels(label_map, CITYSCAPES) == [19, 30]
    assert invalid_labels(torch.tensor([-1, 0, 99, 100]),
                          LabelSpace(100)) == [-1, 100]
    assert invalid_labels(255, LabelSpace(100)) == [255]
    assert describe_labels([30], CITYSCAPES) == \
        'label 30 outside [0, 19) and not the ignore index 255'


def seg_sample(values, path):
    sample = SegDataSample(metainfo=dict(
        img_path=f'{path}_leftImg8bit.png',
        seg_map_path=f'{path}_gtFine_labelTrainIds.png'))
    sample.gt_sem_seg = PixelData(data=torch.tensor(values).view(1, 1, -1))
    return sample


def test_hook_names_the_file_of_an_invalid_label():
    hook = LabelCheckHook()
    hook._spaces['train'] = CITYSCAPES
    hook._task = SegTask()
    good = seg_sample([0, 18, 255], 'a/good')
    hook.before_train_iter(None, 0, dict(data_samples=[good, good]))
    bad = seg_sample([0, 30, 255], 'b/bad')
    with pytest.raises(ValueError) as error:
        hook.before_train_iter(None, 1, dict(data_samples=[good, bad]))
    assert str(error.value).startswith(
        'train_dataloader: label 30 outside [0, 19) and not the ignore '
        'index 255 in img_path=b/bad_leftImg8bit.png, '
        'seg_map_path=b/bad_gtFine_labelTrainIds.png.')
    assert 'tools/misc/check_dataset.py' in str(error.value)
    hook._spaces['val'] = LabelSpace(100)
    hook._task = ClsTask()
    sample = DataSample(metainfo=dict(sample_idx=7)).set_gt_label(100)
    with pytest.raises(ValueError, match=r'val_dataloader: label 100 '
                       r'outside \[0, 100\) in sample_idx=7\.'):
        hook.before_val_iter(None, 0, dict(data_samples=[sample]))


def test_check_dataset_names_the_sample_of_an_invalid_class(tmp_path):
    root = write_tiny_cifar100(str(tmp_path), num_train=8, num_test=4)
    path = f'{root}/cifar-100-python/train'
    split = pickle.load(open(path, 'rb'))
    split['fine_labels'][5] = 150
    pickle.dump(split, open(path, 'wb'))
    dataset = OfflineCIFAR100(
        data_root=root, check_md5=False, pipeline=[dict(type='PackInputs')])
    assert check_dataset(dataset) == [
        'sample_idx=5: label 150 outside [0, 100)'
    ]
    dataset = OfflineCIFAR100(
        data_root=root, split='test', check_md5=False, pipeline=[])
    assert check_dataset(dataset) == []
