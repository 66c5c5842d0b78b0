"""tools/train.py refuses a detection config that cannot train before the
runner exists (the work_dir stays untouched), naming the field."""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmokd.utils import check_detection
from tests.conftest import REPO, python, run_tool

DEMO = osp.join(REPO, 'configs/demo/dml_retinanet_r101_r18_tiny-coco_cpu.py')


def _demo(tiny_coco, **model):
    cfg = Config.fromfile(DEMO)
    root = tiny_coco + '/'
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = root
    for name in ('val_evaluator', 'test_evaluator'):
        cfg[name].ann_file = root + 'annotations/instances_val2017.json'
    cfg.model.update(model)
    return cfg


def test_the_demo_passes(tiny_coco):
    check_detection(_demo(tiny_coco))


def test_missing_annotation_files_are_named(tiny_coco):
    cfg = _demo(tiny_coco)
    cfg.train_dataloader.dataset.ann_file = 'annotations/missing.json'
    with pytest.raises(FileNotFoundError,
                       match=r'^train_dataloader\.dataset\.ann_file'):
        check_detection(cfg)
    cfg = _demo(tiny_coco)
    cfg.val_evaluator.ann_file = '/nowhere/instances_val2017.json'
    with pytest.raises(FileNotFoundError, match=r'^val_evaluator\.ann_file'):
        check_detection(cfg)


def test_feature_level_adm_accepts_what_logit_terms_refuse(tiny_coco):
    cfg = _demo(tiny_coco)
    cfg.model.peers.teacher.cfg_path = 'mmdet::gfl/gfl_r50_fpn_1x_coco.py'
    with pytest.raises(ValueError, match=r'^model\.peers\.teacher: its prior '
                       'layout'):
        check_detection(cfg)
    cfg.model.type = 'OnlineDistill'
    cfg.model.distiller = dict(type='mmokd.OnlineDistiller')
    check_detection(cfg)


def test_adm_channels_must_be_the_fpns(tiny_coco):
    cfg = _demo(tiny_coco)
    cfg.model.distiller = dict(
        type='DetADMDistiller', channels=dict(student=128, teacher=256))
    with pytest.raises(ValueError, match=r'^model\.distiller\.channels\.'
                       r'student: 128, but the FPN "neck" of "student" has '
                       'out_channels=256'):
        check_detection(cfg)
    cfg.model.distiller.channels.student = 256
    check_detection(cfg)


def test_kdcl_and_gpd_settings_are_refused(tiny_coco):
    with pytest.raises(ValueError, match='ensemble_strategy'):
        check_detection(
            _demo(tiny_coco, type='KDCL', ensemble_strategy='general'))
    cfg = Config(
        dict(model=dict(
            type='GPD',
            architecture=dict(
                type='mmokd.ExternalModel',
                cfg_path='mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'))))
    with pytest.raises(ValueError, match=r'^model\.architecture: GPD'):
        check_detection(cfg)


def test_gpd_refuses_detectors_when_built():
    """Also at model build: configs, and built networks, naming the
    field."""
    from mmokd.registry import MODELS
    from tests.test_det.det_helpers import RETINANET_R18, TINY_RETINANET
    retinanet = dict(type='mmokd.ExternalModel', cfg_path=RETINANET_R18,
                     cfg_options=TINY_RETINANET)
    with pytest.raises(ValueError, match=r'^model\.architecture: GPD'):
        MODELS.build(dict(type='mmokd.GPD', architecture=retinanet))
    classifier = dict(type='mmpretrain.ImageClassifier')
    with pytest.raises(ValueError, match=r'^model\.teacher: GPD'):
        MODELS.build(
            dict(type='mmokd.GPD', architecture=classifier,
                 teacher=retinanet, static_kd=dict(type='mmokd.DMLLoss')))
    with pytest.raises(ValueError, match=r'^model\.architecture: GPD'):
        MODELS.build(
            dict(type='mmokd.GPD', architecture=MODELS.build(retinanet)))


def test_train_tool_refuses_before_the_runner(tmp_path, tiny_coco):
    cfg = tmp_path / 'bad.py'
    cfg.write_text(
        f'_base_ = [{DEMO!r}]\n'
        f"train_dataloader = dict(dataset=dict(data_root={tiny_coco!r}, "
        "ann_file='annotations/missing.json'))\n"
        f"val_dataloader = dict(dataset=dict(data_root={tiny_coco!r}))\n"
        'test_dataloader = val_dataloader\n'
        f"val_evaluator = dict(ann_file={tiny_coco!r} + "
        "'/annotations/instances_val2017.json')\n"
        'test_evaluator = val_evaluator\n')
    work_dir = tmp_path / 'work'
    proc = run_tool([
        python(), 'tools/train.py', str(cfg), '--work-dir',
        str(work_dir)
    ], env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode != 0
    assert 'train_dataloader.dataset.ann_file' in proc.stderr
    assert not work_dir.exists()
