"""MC-Distil end to end through tools/dist_train.sh CONFIG 2 (gloo, CPU):
the shipped CIFAR-100 config with three tiny students (ResNet10_{xxxs,
xxs,xs}) and a ResNet10_s teacher, and the Cityscapes config (an R18-D8
student a quarter as wide, BN, no auxiliary head; such an R18-D8 teacher
to keep it cheap) on tiny data in the real formats. Each task trains
once, resumes once from the middle and tests its export with the
upstream tools/test.py."""
import glob
import json
import os
import os.path as osp
import pickle
import subprocess

import mmpretrain
import mmseg
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS as PRETRAIN_MODELS

from mmokd.datasets import write_tiny_cifar100, write_tiny_cityscapes
from mmokd.models.builders import ExternalModel
from mmokd.utils import load_checkpoint_safely
from tests.conftest import REPO, dist_train, python, run_tool

CIFAR = osp.join(REPO, 'configs/mcdistil/resnet10_resnet10-5s_cifar100.py')
CITYSCAPES = osp.join(REPO,
                      'configs/mcdistil/deeplabv3_r101_r18_cityscapes.py')
STUDENTS = {
    's_xxxs': ('resnet10_xxxs', 16),
    's_xxs': ('resnet10_xxs', 16),
    's_xs': ('resnet10_xs', 32),
}
DEPLOYED = 's_xs'
EPOCHS, INTERVAL = 3, 2  # 5 batches per epoch: meta steps at 2 and 4

# The shipped config with three of its students and a ResNet10_s teacher,
# random init instead of the CE checkpoints; 42 training and 40 held-out
# images, 5 training batches and 3 (padded) held-out batches per rank, so
# the meta set is not a multiple of the 2 meta steps per epoch.
CLS_BODY = """
custom_imports = dict(imports=['mmokd', 'tests.mcdistil_hooks'])
root = {root!r}
model = dict(
    meta_interval={interval},
    student='s_xs',
    cnet=dict(num_students=3),
    peers=dict(
        _delete_=True,
        s_xxxs=dict(_base_.students.s_xxxs, init_cfg=None),
        s_xxs=dict(_base_.students.s_xxs, init_cfg=None),
        s_xs=dict(_base_.students.s_xs, init_cfg=None),
        teacher=dict(_base_.students.s_s, init_cfg=None)))
optim_wrapper = dict(
    _delete_=True, constructor='mmokd.PeerOptimWrapperConstructor',
    s_xxxs=_base_.sgd, s_xxs=_base_.sgd, s_xs=_base_.sgd,
    cnet=_base_.optim_wrapper.cnet)
param_scheduler = dict(
    _delete_=True, s_xxxs=_base_.cosine, s_xxs=_base_.cosine,
    s_xs=_base_.cosine, cnet=[])
test_cfg = dict(test_peers='s_xs')
split = dict(
    type='mmokd.RandomSplitDataset',
    dataset=dict(type='mmokd.OfflineCIFAR100', data_root=root,
                 check_md5=False, split='train',
                 pipeline=_base_.train_pipeline),
    num_held_out=40, seed=0)
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    loader, batch_size=5, dataset=dict(_delete_=True, part='train', **split))
val_dataloader = dict(
    loader, batch_size=16, dataset=dict(data_root=root, check_md5=False))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=-1),
                     logger=dict(interval=1))
log_processor = dict(window_size=1)
custom_hooks = [
    dict(type='mmokd.ExportPeerHook', peer=name)
    for name in ('s_xxxs', 's_xxs', 's_xs')] + [
    dict(type='mmokd.MCDistilMetaHook', meta_dataloader=dict(
        loader, batch_size=7,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(split, part='held_out'))),
    dict(type='DumpMCDistilDigestHook')]
randomness = dict(seed=0)
"""


def write_config(path, bases, body):
    bases = [bases] if isinstance(bases, str) else list(bases)
    with open(path, 'w') as f:
        f.write(f'_base_ = {bases!r}\n{body}')
    return str(path)


@pytest.fixture(scope='module')
def ten_class_cifar(tmp_path_factory):
    """CIFAR-100 format, only the images of classes 0-9 of a 1000-image
    tiny set (82 train, 31 test): enough images per class to learn."""
    root = write_tiny_cifar100(
        str(tmp_path_factory.mktemp('c10')), 1000, 320)
    for name in ('train', 'test'):
        path = osp.join(root, 'cifar-100-python', name)
        with open(path, 'rb') as f:
            split = pickle.load(f)
        keep = [i for i, y in enumerate(split['fine_labels']) if y < 10]
        split = {
            key: [value[i] for i in keep]
            if isinstance(value, list) else value[keep]
            for key, value in split.items()
        }
        with open(path, 'wb') as f:
            pickle.dump(split, f)
    return root


@pytest.fixture(scope='module')
def cls_run(tmp_path_factory, ten_class_cifar):
    """One 2-process run of the shipped CIFAR-100 config, 3 epochs."""
    tmp_path = tmp_path_factory.mktemp('mcdistil_cls')
    cfg = write_config(
        tmp_path / 'cls.py', CIFAR,
        CLS_BODY.format(
            root=ten_class_cifar, epochs=EPOCHS, interval=INTERVAL))
    work_dir = str(tmp_path / 'work')
    proc = dist_train(cfg, work_dir)
    return cfg, work_dir, proc.log


def scalars(work_dir):
    """Every logged training iteration's values
    (``vis_data/scalars.json``)."""
    path, = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f if '"loss"' in line]


def test_ranks_agree_and_checkpoints_hold_the_cnet(cls_run):
    _, work_dir, log = cls_run
    digests = [
        json.load(open(osp.join(work_dir, f'digest_rank{r}.json')))
        for r in (0, 1)
    ]
    assert set(digests[0]) == set(STUDENTS) | {'teacher', 'cnet'}
    for name, value in digests[0].items():
        assert value == pytest.approx(digests[1][name], rel=1e-6), name
    ckpt = load_checkpoint_safely(osp.join(work_dir, f'epoch_{EPOCHS}.pth'))
    keys = ckpt['state_dict']
    assert any(k.startswith('cnet.trunk.') for k in keys)
    assert not any('.module.' in k for k in keys)
    assert int(keys['meta_steps']) == 2 * EPOCHS
    assert set(ckpt['optimizer']) == set(STUDENTS) | {'cnet'}
    assert 'accuracy/top1' in log and 's_xxxs.accuracy/top1' in log
    assert 'teacher.accuracy/top1' in log


def test_meta_loss_and_every_students_loss_fall(cls_run):
    _, work_dir, _ = cls_run
    logged = scalars(work_dir)
    per_epoch = 5
    meta = [
        row['mcdistil.meta_loss'] for row in logged
        if row['step'] % per_epoch in (INTERVAL, 2 * INTERVAL)
    ]
    assert len(meta) == 2 * EPOCHS
    assert sum(meta[-2:]) < sum(meta[:2]), meta
    for name in STUDENTS:
        losses = [row[f'{name}.loss'] for row in logged]
        # The first epoch's mean against the last one's.
        assert sum(losses[-per_epoch:]) < sum(losses[:per_epoch]), (name,
                                                                    losses)
        assert f'{name}.loss_task' not in logged[0]
        assert 0 < logged[0][f'mcdistil.alpha.{name}'] < 5


PLAIN_CLS = """
custom_imports = dict(imports=['mmokd'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmokd.CIFARBasicResNet', arch={arch!r}),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=100, in_channels={width}))
test_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(type='mmokd.OfflineCIFAR100', data_root={root!r},
                 check_md5=False))
"""


def test_every_exported_student_is_a_plain_mmpretrain_model(
        cls_run, ten_class_cifar, tmp_path):
    _, work_dir, _ = cls_run
    for name, (arch, width) in STUDENTS.items():
        path, = glob.glob(osp.join(work_dir, '*', f'{name}.pth'))
        cfg = Config.fromfile(
            write_config(
                tmp_path / f'{name}.py',
                'mmpretrain::_base_/datasets/cifar100_bs16.py',
                PLAIN_CLS.format(
                    arch=arch, width=width, root=ten_class_cifar)))
        exported = load_checkpoint_safely(path)['state_dict']
        assert not any(k.startswith('cnet') for k in exported)
        plain = PRETRAIN_MODELS.build(cfg.model)
        load_checkpoint(plain, path, strict=True)
    # mmpretrain's own tools/test.py evaluates the deployed student.
    test_cfg = write_config(
        tmp_path / 'plain.py', [
            'mmpretrain::_base_/datasets/cifar100_bs16.py',
            'mmpretrain::_base_/schedules/cifar10_bs128.py',
            'mmpretrain::_base_/default_runtime.py'
        ],
        PLAIN_CLS.format(
            arch=STUDENTS[DEPLOYED][0],
            width=STUDENTS[DEPLOYED][1],
            root=ten_class_cifar))
    tool = osp.join(osp.dirname(mmpretrain.__file__), '.mim/tools/test.py')
    ckpt, = glob.glob(osp.join(work_dir, '*', f'{DEPLOYED}.pth'))
    proc = run_tool([
        python(), tool, test_cfg, ckpt, '--work-dir',
        str(tmp_path / 'test')
    ])
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert 'accuracy/top1' in proc.stdout + proc.stderr


def test_resume_reaches_the_uninterrupted_weights(cls_run, tmp_path):
    cfg, full_dir, _ = cls_run
    part_dir = str(tmp_path / 'part')
    middle = osp.join(full_dir, f'epoch_{EPOCHS - 1}.pth')
    log = dist_train(cfg, part_dir, args=['--resume', middle]).log
    assert 'resumed' in log.lower()
    full, part = (
        load_checkpoint_safely(osp.join(d, f'epoch_{EPOCHS}.pth'))
        for d in (full_dir, part_dir))
    assert full['state_dict'].keys() == part['state_dict'].keys()
    for key, value in full['state_dict'].items():
        difference = (value.double() - part['state_dict'][key].double())
        assert float(difference.abs().max()) <= 1e-6, key
    adam = full['optimizer']['cnet']['state']
    assert adam and adam.keys() == part['optimizer']['cnet']['state'].keys()
    for index, state in adam.items():
        torch.testing.assert_close(
            state['exp_avg'],
            part['optimizer']['cnet']['state'][index]['exp_avg'])


def test_a_bad_setting_stops_before_the_work_dir_is_touched(
        cls_run, tmp_path):
    cfg, _, _ = cls_run
    work_dir = tmp_path / 'work'
    proc = run_tool([
        python(), 'tools/train.py', cfg, '--work-dir',
        str(work_dir), '--cfg-options', 'model.cnet.num_students=4'
    ],
                    env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO))
    assert proc.returncode != 0
    assert 'model.cnet.num_students is 4' in proc.stderr
    assert not work_dir.exists()


SEG_ITERS, SEG_MIDDLE = 6, 3  # meta steps at 2, 4, 6; resume from 3
# R18-D8 networks a quarter as wide (small checkpoints), without the
# auxiliary head, on whole 64x32 images; 12 training images (8 held out:
# 2 meta batches of 2 per rank, so resuming after one meta step skips half
# a pass), batches of 2 per rank (the ASPP pooling branch's BN needs two
# images).
NARROW = {
    'model.backbone.base_channels': 16,
    'model.backbone.stem_channels': 16,
    'model.decode_head.in_channels': 128,
}
SEG_BODY = """
custom_imports = dict(imports=['mmokd', 'tests.mcdistil_hooks'])
root = {root!r}
offline = {{'model.pretrained': None,
           'model.data_preprocessor.size': (32, 64),
           'model.auxiliary_head': None, **{narrow!r}}}
model = dict(
    meta_interval=2,
    peers=dict(
        student=dict(cfg_options=offline, norm_type='BN'),
        # A randomly initialised R18 teacher: cheap on CPU.
        teacher=dict(cfg_path=_base_.model.peers.student.cfg_path,
                     cfg_options=dict(offline, **{{'model.init_cfg': None}}),
                     norm_type='BN')))
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]
split = dict(
    type='mmokd.RandomSplitDataset',
    dataset=dict(type='CityscapesDataset', data_root=root,
                 data_prefix=dict(img_path='leftImg8bit/train',
                                  seg_map_path='gtFine/train'),
                 pipeline=pipeline),
    num_held_out=8, seed=0)
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, batch_size=2,
                        dataset=dict(_delete_=True, part='train', **split))
val_dataloader = dict(loader, dataset=dict(data_root=root,
                                           pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters={iters}, val_interval={iters})
param_scheduler = dict(student=[dict(type='PolyLR', eta_min=1e-4,
                                     power=0.9, begin=0, end={iters},
                                     by_epoch=False)])
default_hooks = dict(
    checkpoint=dict(interval={middle}, max_keep_ckpts=-1, save_best=None),
    logger=dict(interval=1), visualization=dict(draw=False))
log_processor = dict(window_size=1)
custom_hooks = [
    dict(type='mmokd.ExportPeerHook', peer='student'),
    dict(type='mmokd.MCDistilMetaHook', meta_dataloader=dict(
        loader, batch_size=2,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(split, part='held_out'))),
    dict(type='DumpMCDistilDigestHook')]
randomness = dict(seed=0)
"""

MMSEG_TEST = """
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(pretrained=None, data_preprocessor=dict(size=(32, 64)),
             backbone=dict(norm_cfg=norm_cfg, base_channels=16,
                           stem_channels=16),
             decode_head=dict(norm_cfg=norm_cfg, in_channels=128),
             auxiliary_head=None)
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root={root!r}, pipeline=[
                           dict(type='LoadImageFromFile'),
                           dict(type='LoadAnnotations'),
                           dict(type='PackSegInputs')]))
"""


def test_segmentation_two_processes(tmp_path, tmp_path_factory):
    """One run of the Cityscapes config on two processes, its resumption
    from the middle and mmseg's tools/test.py on the export."""
    # A short data root: nested in the meta hook's loader, a path longer
    # than a line makes mmengine's config formatting (yapf; at every
    # checkpoint) take seconds.
    root = write_tiny_cityscapes(
        str(tmp_path_factory.mktemp('cs')), images_per_city=6, size=(64, 32))
    cfg = write_config(
        tmp_path / 'seg.py', CITYSCAPES,
        SEG_BODY.format(
            root=root, iters=SEG_ITERS, middle=SEG_MIDDLE, narrow=NARROW))
    work_dir = str(tmp_path / 'work')
    log = dist_train(cfg, work_dir).log
    assert 'student.decode.loss_ce' not in log  # loss_mc_ce replaces it
    assert 'mIoU' in log and 'teacher.mIoU' in log
    digests = [
        json.load(open(osp.join(work_dir, f'digest_rank{r}.json')))
        for r in (0, 1)
    ]
    assert set(digests[0]) == {'student', 'teacher', 'cnet'}
    for name, value in digests[0].items():
        assert value == pytest.approx(digests[1][name], rel=1e-6), name
    # The logged meta loss and the student's training loss fall.
    logged = scalars(work_dir)
    assert len(logged) == SEG_ITERS
    meta = [  # logged on every row from the first meta step on
        row['mcdistil.meta_loss'] for row in logged if row['step'] % 2 == 0]
    assert len(meta) == SEG_ITERS // 2 and meta[-1] < meta[0], meta
    losses = [row['student.loss'] for row in logged]
    assert sum(losses[-2:]) < sum(losses[:2]), losses
    assert 0 < logged[0]['mcdistil.alpha.student'] < 5
    # The export is a plain mmseg model that mmseg's own test tool runs
    # (started now, it runs beside the resumed training below).
    export, = glob.glob(osp.join(work_dir, '*', 'student.pth'))
    assert not any(
        k.startswith('cnet') for k in load_checkpoint_safely(export)
        ['state_dict'])
    plain_cfg = (
        'mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py')
    plain = ExternalModel(plain_cfg, {
        'model.pretrained': None,
        'model.auxiliary_head': None,
        **NARROW
    }, 'BN')
    load_checkpoint(plain, export, strict=True)
    test_cfg = write_config(tmp_path / 'plain_seg.py', plain_cfg,
                            MMSEG_TEST.format(root=root))
    tool = osp.join(osp.dirname(mmseg.__file__), '.mim/tools/test.py')
    test = subprocess.Popen(
        [python(), tool, test_cfg, export, '--work-dir',
         str(tmp_path / 'test')],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True)
    try:
        # Resumed after one meta step (half a pass of the meta set), the run
        # reaches the uninterrupted weights, C-Net and meta-step count.
        last = f'iter_{SEG_ITERS}.pth'
        part_dir = str(tmp_path / 'part')
        middle = osp.join(work_dir, f'iter_{SEG_MIDDLE}.pth')
        dist_train(cfg, part_dir, args=['--resume', middle])
        full, part = (load_checkpoint_safely(osp.join(d, last))
                      for d in (work_dir, part_dir))
        assert int(full['state_dict']['meta_steps']) == SEG_ITERS // 2
        assert full['state_dict'].keys() == part['state_dict'].keys()
        for key, value in full['state_dict'].items():
            difference = value.double() - part['state_dict'][key].double()
            assert float(difference.abs().max()) <= 1e-6, key
        out, err = test.communicate(timeout=900)
    finally:
        if test.poll() is None:  # a failure above: no stray process
            test.kill()
    assert test.returncode == 0, err[-5000:]
    assert 'mIoU' in out + err
