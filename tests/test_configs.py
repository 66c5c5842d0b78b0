"""Every shipped config parses, states its batch, and builds its model."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmokd.models.tasks import ClsTask, DetTask, SegTask
from mmokd.registry import MODELS
from tests.conftest import REPO

# configs/learning holds fields merged into the other configs (built by
# tests/test_tools/test_learning_check.py), not a config of its own.
CONFIGS = sorted(
    path
    for path in glob.glob(osp.join(REPO, 'configs/**/*.py'), recursive=True)
    if '/_base_/' not in path and '/learning/' not in path)


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_its_model(path):
    cfg = Config.fromfile(path)
    text = open(path).read() + ''.join(
        open(osp.join(osp.dirname(path), base)).read()
        for base in cfg.get('_base_', []) if not base.startswith('mm'))
    assert 'batch' in text, 'every config states its total batch size'
    model = MODELS.build(cfg.model)
    if '/mcdistil/ce/' in path:  # MC-Distil's CE warm starts: one network
        classes = 200 if 'tinyimagenet' in path else 100
        assert model.head.num_classes == classes and 'peers' not in cfg.model
        assert cfg.data_preprocessor.num_classes == classes
        return
    assert model.student_name in model.peer_names
    task = DetTask if 'coco' in path else \
        SegTask if 'cityscapes' in path else ClsTask
    assert type(model.task) is task
    if 'optim_wrapper' in cfg and 'constructor' in cfg.optim_wrapper:
        keys = {
            k
            for k, v in cfg.optim_wrapper.items() if isinstance(v, dict)
        }
        assert keys == set(model.optimized_names)


def test_example_pair_changes_only_the_teacher():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/dml/example_pspnet_r50_r18_cityscapes.py'))
    base = Config.fromfile(
        osp.join(REPO, 'configs/dml/pspnet_r101_r18_cityscapes.py'))
    assert 'pspnet_r50-d8' in cfg.model.peers.teacher.cfg_path
    assert cfg.model.peers.student == base.model.peers.student
    assert cfg.optim_wrapper == base.optim_wrapper
