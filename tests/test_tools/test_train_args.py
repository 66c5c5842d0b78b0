"""Command-line handling of tools/train.py (no training)."""
import argparse
import importlib.util
import os.path as osp

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location('mmokd_train_tool',
                                              osp.join(REPO, 'tools/train.py'))
train_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train_tool)


def args_for(config, **overrides):
    args = dict(
        config=config,
        work_dir=None,
        resume=None,
        amp=False,
        auto_scale_lr=False,
        no_validate=False,
        cfg_options=None,
        launcher='none',
        local_rank=0)
    args.update(overrides)
    return argparse.Namespace(**args)


def test_amp_converts_every_peer_optimizer():
    cfg = train_tool.build_config(
        args_for(
            osp.join(REPO, 'configs/dml/deeplabv3_r101_r18_cityscapes.py'),
            amp=True))
    for peer in ('student', 'teacher'):
        assert cfg.optim_wrapper[peer]['type'] == 'AmpOptimWrapper'
        assert cfg.optim_wrapper[peer]['loss_scale'] == 'dynamic'


def test_resume_work_dir_and_options():
    cfg = train_tool.build_config(
        args_for(
            osp.join(REPO, 'configs/dml/resnet32x4_resnet8x4_cifar100.py'),
            resume='some/iter_8.pth',
            work_dir='wd',
            cfg_options={'train_cfg.max_epochs': 3}))
    assert cfg.resume is True and cfg.load_from == 'some/iter_8.pth'
    assert cfg.work_dir == 'wd' and cfg.train_cfg.max_epochs == 3
    auto = train_tool.build_config(
        args_for(
            osp.join(REPO, 'configs/dml/resnet32x4_resnet8x4_cifar100.py'),
            resume='auto'))
    assert auto.resume is True and auto.load_from is None
    assert auto.work_dir.endswith('resnet32x4_resnet8x4_cifar100')
