"""KDCL's one view per network: real pipelines on tiny data (K7) and the
multi-view preprocessors."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, DefaultScope
from mmpretrain.models import ClsDataPreprocessor
from mmseg.models import SegDataPreProcessor

from mmokd.datasets import (MultiViewPhotoMetricDistortion,
                            PackMultiViewSegInputs)
from mmokd.models import (MultiViewClsDataPreprocessor,
                          MultiViewSegDataPreProcessor)
from tests.conftest import REPO


def cifar_dataset(config, root):
    cfg = Config.fromfile(osp.join(REPO, config))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return DATASETS.build(
            dict(
                cfg.train_dataloader.dataset, data_root=root, check_md5=False))


@pytest.mark.parametrize('config, views', [
    ('configs/kdcl/resnet32x4_resnet8x4_cifar100.py', 2),
    ('configs/kdcl/wrn-16-10_wrn-16-2_mobilenetv2_cifar100.py', 3),
])
def test_k7_cifar_pipeline_gives_one_view_per_network(tiny_cifar100, config,
                                                      views):
    dataset = cifar_dataset(config, tiny_cifar100)
    torch.manual_seed(0)
    np.random.seed(0)
    differ = 0
    for i in range(8):
        item = dataset[i]
        assert len(item['inputs']) == views
        assert all(v.shape == (3, 32, 32) for v in item['inputs'])
        assert int(item['data_samples'].gt_label) == int(
            dataset.get_data_info(i)['gt_label'])
        differ += any(not torch.equal(item['inputs'][0], v)
                      for v in item['inputs'][1:])
    assert differ >= 4  # random crop + flip: most samples differ


def test_k7_cityscapes_pipeline_gives_photometric_views(tiny_cityscapes):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/kdcl/deeplabv3_r101_r18_cityscapes.py'))
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = tiny_cityscapes
    dataset_cfg.pipeline[2].scale = (128, 64)
    dataset_cfg.pipeline[3].crop_size = (64, 128)
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(dataset_cfg)
    np.random.seed(0)
    item = dataset[0]
    assert len(item['inputs']) == 2
    assert item['inputs'][0].shape == item['inputs'][1].shape == (3, 64, 128)
    assert not torch.equal(item['inputs'][0], item['inputs'][1])
    assert item['data_samples'].gt_sem_seg.data.shape == (1, 64, 128)


def test_views_are_independent_draws_of_mmseg_distortion():
    from mmseg.datasets.transforms import PhotoMetricDistortion
    image = np.random.RandomState(0).randint(0, 256, (4, 6, 3), np.uint8)
    np.random.seed(3)
    views = MultiViewPhotoMetricDistortion(num_views=3).transform(
        dict(img=image.copy()))['img']
    np.random.seed(3)
    plain = PhotoMetricDistortion()
    expected = [
        plain.transform(dict(img=image.copy()))['img'] for _ in range(3)
    ]
    assert len(views) == 3
    for view, want in zip(views, expected):
        assert np.array_equal(view, want)  # same grid, photometric only
    assert not np.array_equal(views[0], views[1])


def test_pack_multi_view_packs_every_view_and_one_sample():
    views = [np.full((4, 6, 3), v, np.uint8) for v in range(2)]
    results = dict(
        img=views,
        gt_seg_map=np.zeros((4, 6), np.uint8),
        img_path='a.png',
        seg_map_path='a_gt.png',
        ori_shape=(4, 6),
        img_shape=(4, 6),
        pad_shape=(4, 6),
        scale_factor=(1.0, 1.0),
        flip=False,
        flip_direction=None,
        reduce_zero_label=False)
    packed = PackMultiViewSegInputs().transform(results)
    assert [int(v[0, 0, 0]) for v in packed['inputs']] == [0, 1]
    assert packed['data_samples'].gt_sem_seg.data.shape == (1, 4, 6)


def cls_batch(num_views=2, num_images=3):
    gen = torch.Generator().manual_seed(0)
    from mmpretrain.structures import DataSample
    images = [[
        torch.randint(0, 256, (3, 8, 8), generator=gen, dtype=torch.uint8)
        for _ in range(num_views)
    ] for _ in range(num_images)]
    samples = [DataSample().set_gt_label(i) for i in range(num_images)]
    return pseudo_collate([
        dict(inputs=views, data_samples=sample)
        for views, sample in zip(images, samples)
    ])


def test_cls_preprocessor_processes_each_view_like_the_plain_one():
    kwargs = dict(mean=[1.0, 2.0, 3.0], std=[2.0, 3.0, 4.0], to_rgb=True)
    data = cls_batch()
    out = MultiViewClsDataPreprocessor(
        num_views=2, **kwargs)(copy.deepcopy(data), True)
    plain = ClsDataPreprocessor(**kwargs)
    for v in range(2):
        view = dict(
            inputs=data['inputs'][v],
            data_samples=copy.deepcopy(data['data_samples']))
        assert torch.equal(out['inputs'][v], plain(view, True)['inputs'])
    assert [int(s.gt_label) for s in out['data_samples']] == [0, 1, 2]
    single = dict(inputs=data['inputs'][0], data_samples=data['data_samples'])
    assert torch.equal(
        MultiViewClsDataPreprocessor(num_views=2, **kwargs)(single)['inputs'],
        plain(single)['inputs'])


def test_cls_preprocessor_refuses_batch_augments_and_wrong_view_counts():
    with pytest.raises(ValueError, match='batch_augments'):
        MultiViewClsDataPreprocessor(
            num_views=2,
            num_classes=10,
            batch_augments=dict(augments=dict(type='Mixup', alpha=1.0)))
    with pytest.raises(ValueError, match='num_views is 3'):
        MultiViewClsDataPreprocessor(num_views=3)(cls_batch(2), True)


def test_seg_preprocessor_processes_each_view_like_the_plain_one():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(0)
    inputs = [[
        torch.randint(0, 256, (3, 6, 10), generator=gen, dtype=torch.uint8)
        for _ in range(2)
    ] for _ in range(2)]
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 19, (1, 6, 10), generator=gen))
        samples.append(sample)
    kwargs = dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        seg_pad_val=255,
        size=(8, 12))
    data = pseudo_collate([
        dict(inputs=views, data_samples=sample)
        for views, sample in zip(inputs, samples)
    ])
    out = MultiViewSegDataPreProcessor(
        num_views=2, **kwargs)(copy.deepcopy(data), True)
    plain = SegDataPreProcessor(**kwargs)
    for v in range(2):
        ref = plain(
            dict(
                inputs=[s[v] for s in inputs],
                data_samples=copy.deepcopy(samples)), True)
        assert torch.equal(out['inputs'][v], ref['inputs'])
        for got, want in zip(out['data_samples'], ref['data_samples']):
            assert torch.equal(got.gt_sem_seg.data, want.gt_sem_seg.data)
