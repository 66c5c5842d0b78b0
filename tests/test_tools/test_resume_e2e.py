"""Exact resume of a 2-process DML segmentation run through
tools/dist_train.sh: the Cityscapes augmentation (random resize, crop,
flip, photometric distortion), dropout in every head, validation and a
best checkpoint after the resumed one, with and without dataloader
workers."""
import pytest

from tests.test_tools.test_gpd_e2e import NARROW
from tests.test_tools.test_train_e2e import (assert_same_weights,
                                             shrink_cityscapes_options,
                                             train_interrupted_and_resumed)

SEG_DML = 'configs/dml/deeplabv3_r101_r18_cityscapes.py'
PSPNET_R18 = 'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'


@pytest.mark.parametrize('num_workers', [0, 2])
def test_dml_segmentation_resume_repeats_the_uninterrupted_run(
        tmp_path, tiny_cityscapes, num_workers):
    # DeepLabV3 R18 student, PSPNet R18 teacher (4x narrower, CPU time);
    # 6 iterations, checkpoint and validation every 3.
    narrow = [
        f'model.peers.{peer}.cfg_options.{key}={value}'
        for peer in ('student', 'teacher') for key, value in NARROW.items()
    ]
    options = shrink_cityscapes_options(tiny_cityscapes, iters=6) + narrow
    options += [
        'default_hooks.checkpoint.interval=3', 'train_cfg.val_interval=3',
        f'train_dataloader.num_workers={num_workers}',
        f'train_dataloader.persistent_workers={num_workers > 0}',
        f'model.peers.teacher.cfg_path={PSPNET_R18}'
    ]
    full, part, middle = train_interrupted_and_resumed(
        tmp_path, SEG_DML, stop=3, end=6, unit='iter', options=options)
    assert len(middle['rank_states']) == 2
    assert_same_weights(full, part)
