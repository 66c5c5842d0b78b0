"""Resume through tools/: a 2-process DML segmentation run resumed from a
checkpoint ends exactly as the uninterrupted run (the Cityscapes
augmentation: random resize, crop, flip, photometric distortion; dropout
in every head; validation and a best checkpoint after the resumed one;
dataloader workers, whose seeds derive from the restored state; the
main-process RNG without workers is covered by the classification resume
test in test_train_e2e.py); a checkpoint of another pair is
refused before training; ``--resume`` with nothing to resume warns."""
import os
import os.path as osp

import torch

from tests.conftest import REPO, python, run_tool
from tests.test_tools.test_gpd_e2e import NARROW
from tests.test_tools.test_train_args import train_tool
from tests.test_tools.test_train_e2e import (CLS_DML, assert_same_weights,
                                             cls_config,
                                             shrink_cityscapes_options,
                                             train_interrupted_and_resumed)

SEG_DML = osp.join(REPO, 'configs/dml/deeplabv3_r101_r18_cityscapes.py')
PSPNET_R18 = 'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'


def test_dml_segmentation_resume_repeats_the_uninterrupted_run(
        tmp_path, tiny_cityscapes):
    # DeepLabV3 R18 student, PSPNet R18 teacher (4x narrower, CPU time);
    # 2 iterations, checkpoint and validation after each.
    narrow = [
        f'model.peers.{peer}.cfg_options.{key}={value}'
        for peer in ('student', 'teacher') for key, value in NARROW.items()
    ]
    options = shrink_cityscapes_options(tiny_cityscapes, iters=2) + narrow
    options += [
        'default_hooks.checkpoint.interval=1', 'train_cfg.val_interval=1',
        'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=True',
        f'model.peers.teacher.cfg_path={PSPNET_R18}'
    ]
    full, part, middle = train_interrupted_and_resumed(
        tmp_path, SEG_DML, stop=1, end=2, unit='iter', options=options)
    assert len(middle['rank_states']) == 2
    assert_same_weights(full, part)


def test_resume_of_another_pair_fails_before_training(tmp_path, tiny_cifar100):
    from mmengine.config import Config

    from mmokd.registry import MODELS

    # The same config with a ResNet8x4 teacher instead of ResNet32x4.
    model = Config.fromfile(CLS_DML).model
    model.peers.teacher = model.peers.student
    ckpt = str(tmp_path / 'other_pair.pth')
    torch.save(
        dict(
            meta=dict(epoch=1, iter=4),
            state_dict=MODELS.build(model).state_dict()), ckpt)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    cfg = cls_config(tmp_path, tiny_cifar100)
    proc = run_tool([
        python(), 'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'work'), '--resume', ckpt
    ],
                    env=env)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'Cannot resume: the checkpoint was saved by another model' in log
    assert 'in the checkpoint: student, teacher; in this model: student, ' \
        'teacher' in log
    assert 'teacher.backbone.layer1.1.conv1.weight: not in the checkpoint' \
        in log
    # Nothing was loaded (mmengine would list every missing key) and
    # nothing trained.
    assert 'missing keys' not in log and 'Epoch(train)' not in log


def test_resume_with_nothing_to_resume_warns(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(train_tool, 'print_log',
                        lambda message, **kwargs: warnings.append(message))
    train_tool.warn_if_nothing_to_resume(str(tmp_path))
    assert len(warnings) == 1
    assert f'nothing to resume in {tmp_path}' in warnings[0]
    assert 'training starts from scratch' in warnings[0]
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    train_tool.warn_if_nothing_to_resume(str(tmp_path))
    assert len(warnings) == 1
