"""The COCO configs keep each peer's own mmdet optimizer and the
student's schedule, and track the student's box AP."""
import copy
import functools
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmokd.models.builders.external_model import package_config_file
from tests.conftest import REPO

COCO_CONFIGS = sorted(
    path for path in glob.glob(
        osp.join(REPO, 'configs/**/*coco*.py'), recursive=True)
    if '/_base_/' not in path and '/demo/' not in path)
OPTIMIZER_KEYS = ('type', 'optimizer', 'paramwise_cfg', 'clip_grad')


@functools.lru_cache()
def _package_config(cfg_path):
    return Config.fromfile(package_config_file(cfg_path))


def _peer_config(peer):
    cfg = copy.deepcopy(_package_config(peer['cfg_path']))
    cfg.merge_from_dict(peer.get('cfg_options') or {})
    return cfg


def _unscoped(entries):
    """Config entries without the ``_scope_`` that mmengine adds to those
    read from a package (``mmdet::``)."""
    return [{k: v
             for k, v in entry.items() if k != '_scope_'}
            for entry in entries]


@pytest.mark.parametrize(
    'path', COCO_CONFIGS, ids=[osp.relpath(p, REPO) for p in COCO_CONFIGS])
def test_each_peer_keeps_its_mmdet_optimizer(path):
    cfg = Config.fromfile(path)
    assert cfg.optim_wrapper.constructor == 'mmokd.PeerOptimWrapperConstructor'
    for name, peer in cfg.model.peers.items():
        own = _peer_config(peer).optim_wrapper
        mine = cfg.optim_wrapper[name]
        for key in OPTIMIZER_KEYS:
            assert mine.get(key) == own.get(key), (name, key)
    student_name = cfg.model.get('student', 'student')
    student = _peer_config(cfg.model.peers[student_name])
    assert _unscoped(cfg.param_scheduler) == _unscoped(
        student.param_scheduler)
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.train_dataloader.batch_size == 2  # x 8 GPUs = 16
    assert cfg.default_hooks.checkpoint.save_best == 'coco/bbox_mAP'
    assert cfg.val_cfg.type == 'mmokd.OnlineDistillValLoop'


def test_gfl_r18_student_is_the_r50_config_on_resnet18():
    cfg = Config.fromfile(osp.join(REPO, 'configs/dml/gfl_r101_r18_coco.py'))
    model = _peer_config(cfg.model.peers.student).model
    assert model.backbone.depth == 18
    assert model.backbone.init_cfg.checkpoint == 'torchvision://resnet18'
    assert model.neck.in_channels == [64, 128, 256, 512]
