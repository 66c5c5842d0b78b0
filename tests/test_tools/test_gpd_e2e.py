"""GPD end to end through tools/ on tiny data in the real formats:
2-process training (shared store, two forwards and backwards per step),
resume, export of the plain student and its evaluation by mmpretrain's /
mmseg's own test tools."""
import os.path as osp

import pytest
import torch

from mmokd.utils import export_peer, load_checkpoint_safely
from tests.conftest import REPO, dist_train, python, run_tool
from tests.test_tools.test_train_e2e import (assert_mmseg_test_evaluates,
                                             assert_ranks_agree,
                                             assert_same_weights,
                                             exported_student, resume,
                                             shrink_cityscapes_options,
                                             tiny_cifar_loaders, write_config)

CLS_GPD = osp.join(REPO, 'configs/gpd/scratch_resnet18_in1k.py')
SEG_GPD = osp.join(REPO, 'configs/gpd/kd_pspnet_r101_r18_cityscapes.py')
# mmpretrain's CIFAR ResNet-18, 8 channels wide, 100 classes.
TINY_STUDENT = ("cfg_path='mmpretrain::resnet/resnet18_8xb16_cifar10.py', "
                "cfg_options={'model.backbone.base_channels': 8, "
                "'model.backbone.stem_channels': 8, "
                "'model.head.in_channels': 64, "
                "'model.head.num_classes': 100}")

CLS_BODY = """
custom_imports = dict(imports=['mmokd', 'tests.dist_hooks'])
model = dict(architecture=dict({student}))
train_cfg = dict(max_epochs={epochs})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=-1))
custom_hooks = [dict(type='mmokd.ExportPeerHook'),
                dict(type='DumpPeerDigestHook'),
                dict(type='EMAHook', momentum=0.5, update_buffers=True)]
randomness = dict(seed=0, deterministic=True)
"""

PLAIN_CLS_BODY = """
model = dict(head=dict(num_classes=100, in_channels=64),
             backbone=dict(base_channels=8, stem_channels=8))
test_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(type='mmokd.OfflineCIFAR100', data_root={root!r},
                 check_md5=False, pipeline=[dict(type='PackInputs')]))
test_evaluator = dict(type='Accuracy', topk=(1, ))
custom_imports = dict(imports=['mmokd'], allow_failed_imports=False)
"""


def cls_config(tmp_path, root, epochs=1):
    return write_config(
        tmp_path / 'gpd_cls.py', CLS_GPD,
        CLS_BODY.format(student=TINY_STUDENT, epochs=epochs) +
        tiny_cifar_loaders(root, 8))


def assert_identical_checkpoints(path_a, path_b):
    weights_a = load_checkpoint_safely(path_a)['state_dict']
    weights_b = load_checkpoint_safely(path_b)['state_dict']
    assert weights_a.keys() == weights_b.keys()
    for key, value in weights_a.items():
        assert torch.equal(value, weights_b[key]), key


# The CIFAR-100 training augmentation: random crop and flip.
AUGMENTED = """
train_dataloader['dataset']['pipeline'] = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')]
"""


@pytest.fixture(scope='module')
def cls_run(tmp_path_factory, tiny_cifar100):
    """One 2-process GPD run of the tiny student with random crop and
    flip: 2 epochs, a checkpoint after each."""
    tmp_path = tmp_path_factory.mktemp('gpd_cls')
    cfg = cls_config(tmp_path, tiny_cifar100, epochs=2)
    with open(cfg, 'a') as f:
        f.write(AUGMENTED)
    work_dir = str(tmp_path / 'work')
    return cfg, work_dir, dist_train(cfg, work_dir).log


def test_classification_two_processes_and_export(cls_run, tmp_path,
                                                 tiny_cifar100):
    cfg, work_dir, log = cls_run
    for term in ('loss_ce_dt', 'loss_ce_s', 'loss_gpd', 'accuracy/top1',
                 'dynamic_teacher.accuracy/top1'):
        assert term in log, term
    assert_ranks_agree(work_dir, ('student', 'dynamic_teacher'))
    last = osp.join(work_dir, 'epoch_2.pth')
    ckpt = load_checkpoint_safely(last)
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {'architecture'}
    # Store = the DT's shapes: the CIFAR stem conv has 2 x 8 filters.
    assert ckpt['state_dict']['architecture.backbone.conv1.weight'].shape[
        0] == 16  # noqa
    # The EMA (of the DDP-wrapped store) is saved as state_dict, the raw
    # weights as ema_state_dict.
    assert any(not torch.equal(value, ckpt['ema_state_dict'][f'module.{key}'])
               for key, value in ckpt['state_dict'].items())
    # The converter (rebuilding GPD from the training config) and the hook
    # export the same plain student: the EMA's.
    out = export_peer(last, str(tmp_path / 'student.pth'), config=cfg)
    hook_export = exported_student(work_dir)
    assert_identical_checkpoints(out, hook_export)
    # mmpretrain's own test tool evaluates it with the plain config.
    import mmpretrain
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    plain_cfg = write_config(tmp_path / 'plain.py',
                             'mmpretrain::resnet/resnet18_8xb16_cifar10.py',
                             PLAIN_CLS_BODY.format(root=tiny_cifar100))
    plain = PRETRAIN_MODELS.build(Config.fromfile(plain_cfg).model)
    load_checkpoint(plain, hook_export, strict=True)
    tool = osp.join(osp.dirname(mmpretrain.__file__), '.mim/tools/test.py')
    proc = run_tool([
        python(), tool, plain_cfg, hook_export, '--work-dir',
        str(tmp_path / 'mmpretrain_test')
    ])
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert 'accuracy/top1' in proc.stdout + proc.stderr


def test_resume_reaches_the_uninterrupted_weights(cls_run, tmp_path):
    cfg, work_dir, _ = cls_run
    full, part, _ = resume(cfg, work_dir, str(tmp_path / 'part'))
    assert_same_weights(full, part)
    assert full['optimizer']['state'].keys() == \
        part['optimizer']['state'].keys()


# PSPNet R18-D8 with 4x narrower backbone and heads (CPU time).
NARROW = {
    'model.backbone.stem_channels': 16,
    'model.backbone.base_channels': 16,
    'model.decode_head.in_channels': 128,
    'model.decode_head.channels': 32,
    'model.auxiliary_head.in_channels': 64,
    'model.auxiliary_head.channels': 16
}
SEG_BODY = """
custom_imports = dict(imports=['mmokd', 'tests.dist_hooks'])
custom_hooks = [dict(type='mmokd.ExportPeerHook'),
                dict(type='DumpPeerDigestHook')]
offline = {{'model.pretrained': None, 'model.init_cfg': None,
           'model.data_preprocessor.size': (64, 128), **{narrow!r}}}
# A PSPNet R18 stands in for the R101 teacher; both are 4x narrower.
model = dict(
    architecture=dict(cfg_options=offline, norm_type='BN'),
    teacher=dict(
        cfg_path='mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        cfg_options=offline, norm_type='BN'))
"""


def test_segmentation_with_static_teacher_two_processes(
        tmp_path, tiny_cityscapes):
    from mmengine.runner import load_checkpoint

    from mmokd.models.builders import ExternalModel
    cfg = write_config(tmp_path / 'gpd_seg.py', SEG_GPD,
                       SEG_BODY.format(narrow=NARROW))
    options = [
        o for o in shrink_cityscapes_options(tiny_cityscapes, iters=2)
        if 'model.peers' not in o
    ]
    work_dir = str(tmp_path / 'work')
    log = dist_train(cfg, work_dir, options).log
    for term in ('loss_ce_dt', 'loss_kd_dt', 'loss_ce_s', 'loss_kd_s',
                 'loss_gpd', 'mIoU', 'dynamic_teacher.mIoU'):
        assert term in log, term
    assert_ranks_agree(work_dir, ('student', 'dynamic_teacher', 'teacher'))
    # The exported student is the plain PSPNet R18 and mmseg tests it.
    plain_cfg = 'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'
    plain = ExternalModel(plain_cfg, dict(NARROW, **{'model.pretrained':
                                                     None}), 'BN')
    student = exported_student(work_dir)
    load_checkpoint(plain, student, strict=True)
    assert_mmseg_test_evaluates(
        tmp_path, plain_cfg,
        dict(
            backbone=', stem_channels=16, base_channels=16',
            decode_head=', in_channels=128, channels=32',
            auxiliary_head=', in_channels=64, channels=16'), tiny_cityscapes,
        student)
