"""KDCL end to end through tools/ on tiny data in the real formats:
2-process segmentation and classification (one view per network, General
weights all-reduced), and resume."""
import json
import os.path as osp

import pytest
import torch

from tests.conftest import REPO, dist_train
from tests.test_tools.test_train_e2e import (CLS_TINY_BODY, assert_ranks_agree,
                                             assert_same_weights, resume,
                                             shrink_cityscapes_options,
                                             write_config)

KDCL_SEG = osp.join(REPO, 'configs/kdcl/deeplabv3_r101_r18_cityscapes.py')
SEG_R18 = ('mmseg::deeplabv3/'
           'deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py')
KDCL_GENERAL = osp.join(
    REPO, 'configs/kdcl/resnet32x4_resnet8x4_general_cifar100.py')

# Tiny run: two ResNet8x4 networks, 16 training, 16 validation and 8
# held-out images.
GENERAL_BODY = """
model = dict(peers=dict(teacher=dict(backbone=dict(arch='resnet8x4'))))
val_dataloader['dataset']['indices'] = 16
custom_imports = dict(
    imports=['mmokd', 'tests.dist_hooks', 'tests.kdcl_hooks'])
custom_hooks = [
    dict(type='DumpPeerDigestHook'),
    dict(type='DumpGeneralWeightsHook'),
    dict(type='mmokd.KDCLGeneralWeightsHook',
         dataloader=dict(
             batch_size=8, num_workers=0,
             sampler=dict(type='DefaultSampler', shuffle=False),
             dataset=dict(type='mmokd.OfflineCIFAR100', data_root={root!r},
                          check_md5=False, split='train', indices=-8,
                          pipeline=[dict(type='PackInputs')])))]
"""


def general_config(tmp_path, root, epochs):
    body = CLS_TINY_BODY.format(
        root=root, epochs=epochs, pipeline=', indices=16')
    body += GENERAL_BODY.format(root=root)
    return write_config(tmp_path / 'kdcl_general.py', KDCL_GENERAL, body)


def test_kdcl_segmentation_config_two_processes(tmp_path, tiny_cityscapes):
    cfg = write_config(
        tmp_path / 'kdcl_seg.py', KDCL_SEG,
        "custom_imports = dict(imports=['mmokd', 'tests.dist_hooks'])\n"
        "custom_hooks = [dict(type='mmokd.ExportPeerHook'),\n"
        "                dict(type='DumpPeerDigestHook')]\n")
    work_dir = str(tmp_path / 'work')
    log = dist_train(
        cfg, work_dir,
        shrink_cityscapes_options(tiny_cityscapes, iters=2) + [
            'model.data_preprocessor.size=(64,128)',
            # Two R18 networks keep the CPU run short.
            f'model.peers.teacher.cfg_path={SEG_R18}'
        ]).log
    assert 'student.loss_kdcl' in log and 'teacher.loss_kdcl' in log
    assert 'teacher.mIoU' in log
    assert_ranks_agree(work_dir)


@pytest.fixture(scope='module')
def general_run(tmp_path_factory, tiny_cifar100):
    """One 2-process KDCL-General run with random multi-view augmentation
    (own crop and flip per network) drawn in 2 dataloader workers per
    rank: 2 epochs, a checkpoint after each."""
    tmp_path = tmp_path_factory.mktemp('kdcl')
    cfg = general_config(tmp_path, tiny_cifar100, epochs=2)
    with open(cfg, 'a') as f:
        f.write("train_dataloader['num_workers'] = 2\n")
    work_dir = str(tmp_path / 'work')
    return cfg, work_dir, dist_train(cfg, work_dir).log


def test_kdcl_general_multi_view_classification_two_processes(general_run):
    _, work_dir, log = general_run
    assert 'student.loss_kdcl' in log and 'KDCL-General weights' in log
    assert 'teacher.accuracy/top1' in log
    assert_ranks_agree(work_dir)
    weights = [
        json.load(open(osp.join(work_dir, f'general_weights_rank{r}.json')))
        for r in (0, 1)
    ]
    assert weights[0] == weights[1]  # all-reduced statistics
    assert sum(weights[0]) == pytest.approx(1.0)
    assert weights[0] != pytest.approx([0.5, 0.5], abs=1e-6)


def test_kdcl_resume_keeps_general_weights_and_reaches_the_same_weights(
        general_run, tmp_path):
    cfg, work_dir, _ = general_run
    full, part, first = resume(cfg, work_dir, str(tmp_path / 'part'))
    estimated = first['state_dict']['general_weights']
    assert not torch.allclose(estimated, torch.full((2, ), 0.5))
    assert_same_weights(full, part)
