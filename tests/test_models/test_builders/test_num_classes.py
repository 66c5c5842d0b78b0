"""``model.num_classes``: one field sets every network's class count."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmokd.models.builders import load_model_config
from mmokd.models.builders.num_classes import with_num_classes
from mmokd.registry import MODELS
from tests.conftest import REPO

SEG = dict(
    type='EncoderDecoder',
    decode_head=dict(type='ASPPHead', num_classes=19),
    auxiliary_head=[dict(type='FCNHead', num_classes=19)] * 2)


def test_sets_classification_and_segmentation_heads():
    cls = dict(
        type='ImageClassifier',
        head=dict(num_classes=100),
        data_preprocessor=dict(num_classes=100))
    out = with_num_classes(cls, 10, 'model.peers.student')
    assert out['head']['num_classes'] == 10
    assert out['data_preprocessor']['num_classes'] == 10
    assert cls['head']['num_classes'] == 100  # a copy
    seg = with_num_classes(SEG, 4, 'model.peers.student')
    assert seg['decode_head']['num_classes'] == 4
    assert [h['num_classes'] for h in seg['auxiliary_head']] == [4, 4]
    external = with_num_classes(
        dict(type='mmokd.ExternalModel', cfg_path='x.py'), 4, 'f')
    assert external['num_classes'] == 4
    assert with_num_classes(cls, None, 'f') is cls


def test_network_without_head_is_refused_naming_the_field():
    with pytest.raises(ValueError, match='model.peers.net1: model.num'):
        with_num_classes(dict(type='Foo', backbone={}), 10, 'model.peers.net1')


def test_external_model_passes_it_to_the_loaded_config():
    cfg = load_model_config(
        'mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        num_classes=5)
    assert cfg.model.decode_head.num_classes == 5
    assert cfg.model.auxiliary_head.num_classes == 5


@pytest.mark.parametrize('path', [
    'configs/dml/resnet32x4_resnet8x4_cifar100.py',
    'configs/kdcl/resnet32x4_resnet8x4_cifar100.py',
    'configs/adm/offline_kd_resnet32x4_resnet8x4_cifar100.py',
])
def test_cfg_options_override_once_for_every_network(path):
    """What ``--cfg-options model.num_classes=10`` does: a base-file
    variable could not (mmengine resolves it when the base is read)."""
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.merge_from_dict({'model.num_classes': 10})
    model_cfg = dict(cfg.model)
    model_cfg['peers'] = {
        name: {
            k: v
            for k, v in peer.items() if k != 'init_cfg'
        }
        for name, peer in model_cfg['peers'].items()
    }
    model = MODELS.build(model_cfg)
    assert model.class_counts() == dict(student=10, teacher=10)


SEG_RECIPE = """
_base_ = ['{base}']
model = dict(num_classes=4)
dataset = dict(
    type='BaseSegDataset', data_root='data/myseg',
    metainfo=dict(classes=('background', 'road', 'car', 'person')),
    img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False)
train_dataloader = dict(dataset=dict(
    dataset, data_prefix=dict(img_path='img/train', seg_map_path='ann/train')))
"""


def test_readme_segmentation_recipe(tmp_path):
    """README "Train on your own data": one field reaches the decode and
    auxiliary heads of every ExternalModel peer."""
    path = tmp_path / 'myseg.py'
    path.write_text(
        SEG_RECIPE.format(
            base=osp.join(REPO,
                          'configs/dml/deeplabv3_r101_r18_cityscapes.py')))
    cfg = Config.fromfile(str(path))
    assert cfg.train_dataloader.dataset.type == 'BaseSegDataset'
    for name, peer in cfg.model.peers.items():
        peer = with_num_classes(peer, cfg.model.num_classes,
                                f'model.peers.{name}')
        model = load_model_config(peer.cfg_path, peer.get('cfg_options'),
                                  peer.get('norm_type'),
                                  peer.num_classes).model
        assert model.decode_head.num_classes == 4
        assert model.auxiliary_head.num_classes == 4
