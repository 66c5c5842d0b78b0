"""check_mcdistil: every MC-Distil setting refused before training,
naming its field (issue list of MC-Distil's pre-build errors)."""
import copy
import os.path as osp

import pytest
from mmengine.config import Config

from mmokd.utils import check_mcdistil
from tests.conftest import REPO

CIFAR = osp.join(REPO, 'configs/mcdistil/resnet10_resnet10-5s_cifar100.py')


@pytest.fixture(scope='module')
def shipped():
    return Config.fromfile(CIFAR)


@pytest.fixture
def cfg(shipped, tmp_path):
    """The shipped CIFAR-100 config with existing warm-start files."""
    cfg = copy.deepcopy(shipped)
    for name, peer in cfg.model.peers.items():
        path = tmp_path / f'{name}.pth'
        path.write_bytes(b'')
        peer.init_cfg.checkpoint = str(path)
    return cfg


def test_the_shipped_config_passes_once_its_checkpoints_exist(cfg):
    check_mcdistil(cfg)


def test_missing_warm_start_checkpoint(shipped):
    with pytest.raises(FileNotFoundError,
                       match='model.peers.s_xxxs.init_cfg.checkpoint'):
        check_mcdistil(shipped)


def test_missing_checkpoint_of_an_external_model(tmp_path):
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/mcdistil/deeplabv3_r101_r18_cityscapes.py'))
    check_mcdistil(cfg)  # the teacher's zoo URL is not checked here
    options = cfg.model.peers.teacher.cfg_options
    options['model.init_cfg'] = dict(
        type='Pretrained', checkpoint=str(tmp_path / 'r101.pth'))
    with pytest.raises(
            FileNotFoundError,
            match='model.peers.teacher.cfg_options.model.init_cfg.checkpoint'):
        check_mcdistil(cfg)


def test_other_methods_are_not_checked():
    check_mcdistil(
        Config.fromfile(
            osp.join(REPO, 'configs/dml/resnet32x4_resnet8x4_cifar100.py')))


def wrapper(cfg, name):
    return cfg.optim_wrapper[name]


CASES = {
    'model.cnet.num_students is 4':
    lambda c: c.model.cnet.update(num_students=4),
    'model.cnet.num_students: 5 students need 10 weights':
    lambda c: c.model.cnet.update(planes=(8, 8, 8, 8)),
    'model.teacher':
    lambda c: c.model.update(teacher='tutor'),
    'model.frozen_peers':
    lambda c: c.model.update(frozen_peers=['teacher', 's_m']),
    'model.meta_interval':
    lambda c: c.model.update(meta_interval=0),
    'model.hypergrad':
    lambda c: c.model.update(hypergrad='jvp'),
    'optim_wrapper.s_xs.optimizer':
    lambda c: wrapper(c, 's_xs').update(
        optimizer=dict(type='AdamW', lr=1e-3)),
    'optim_wrapper.s_s.clip_grad':
    lambda c: wrapper(c, 's_s').update(clip_grad=dict(max_norm=1.0)),
    'optim_wrapper.s_m.accumulative_counts':
    lambda c: wrapper(c, 's_m').update(accumulative_counts=2),
    'optim_wrapper.cnet: missing':
    lambda c: c.optim_wrapper.pop('cnet'),
    'param_scheduler: a list':
    lambda c: setattr(c, 'param_scheduler', c.param_scheduler.s_m),
    'custom_hooks: MC-Distil needs':
    lambda c: setattr(c, 'custom_hooks', c.custom_hooks[:5]),
    'meta_dataloader.dataset: it is the training dataset':
    lambda c: c.custom_hooks[5].meta_dataloader.update(
        dataset=copy.deepcopy(c.train_dataloader.dataset)),
    'model.data_preprocessor: \\[\'Mixup\'\\]':
    lambda c: c.model.update(data_preprocessor=dict(
        batch_augments=dict(augments=[dict(type='Mixup', alpha=1.0)]))),
    'model.data_preprocessor: \\[\'CutMix\'\\]':
    lambda c: c.model.peers.s_xs.update(train_cfg=dict(
        augments=[dict(type='CutMix', alpha=1.0)])),
}


@pytest.mark.parametrize('message', list(CASES))
def test_bad_setting_is_refused_naming_the_field(cfg, message):
    CASES[message](cfg)
    with pytest.raises(ValueError, match=message):
        check_mcdistil(cfg)
