"""A diverging 2-process run (issue 10, 2), launched as users do with
``tools/dist_train.sh CONFIG 2`` on CPU (gloo): the learning rate jumps
to 1e30 after iteration 3 and the losses are NaN from iteration 5 on. The
non-finite guard stops the run with a non-zero exit code and a message
naming the iteration, the peer and the loss term, at once (``'stop'``) or
after two skipped steps (``'skip'``); every checkpoint is finite, the last
one survives ``max_keep_ckpts=1`` and ``last_checkpoint`` names it; no
student is exported."""
import glob
import os
import os.path as osp
import re

import pytest

from mmokd.models.utils import nonfinite_tensors
from mmokd.utils import load_checkpoint_safely
from tests.conftest import dist_train
from tests.test_tools.test_train_e2e import CLS_DML, write_config

DIVERGING_BODY = """
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={root!r}, check_md5=False,
                 pipeline=[dict(type='PackInputs')]))
val_dataloader = dict(dataset=dict(data_root={root!r}, check_md5=False))
test_dataloader = val_dataloader
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=12)
param_scheduler = [dict(type='MultiStepLR', by_epoch=False, milestones=[3],
                        gamma=1e30)]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=1, max_keep_ckpts=1,
                    save_best=None),
    logger=dict(interval=1))
model = dict(
    peers=dict(teacher=dict(backbone=dict(arch='resnet8x4'))),
    nonfinite_guard=dict(policy={policy!r}, max_consecutive_skips=2))
randomness = dict(seed=0, deterministic=True)
"""


@pytest.mark.parametrize('policy, first_nan, failed', [('stop', 5, 5),
                                                       ('skip', 5, 7)])
def test_diverging_run_stops_and_keeps_the_last_finite_checkpoint(
        tmp_path, tiny_cifar100, policy, first_nan, failed):
    cfg = write_config(
        tmp_path / 'diverge.py', CLS_DML,
        DIVERGING_BODY.format(root=tiny_cifar100, policy=policy))
    work_dir = str(tmp_path / 'work')
    proc = dist_train(cfg, work_dir, args=['--no-validate'], check=False)
    log = proc.log
    assert proc.returncode != 0, log[-3000:]
    found = re.search(
        r'Non-finite loss at iteration (\d+): peer "(\w+)" term '
        r'"([^"]+)"[^;\n]*Training stopped', log)
    assert found, log[-5000:]
    assert int(found.group(1)) == failed
    assert found.group(2) in ('student', 'teacher')
    skipped = re.findall(
        r'Non-finite loss at iteration (\d+): .*; skipped '
        r'the update', log)
    assert sorted({int(i) for i in skipped}) == list(range(first_nan, failed))
    # The message also reaches the run's log file.
    log_files = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert any(found.group(0) in open(path).read() for path in log_files)
    # max_keep_ckpts=1 removed nothing it should not: the one checkpoint
    # left is the last iteration before the failure, finite, and named by
    # last_checkpoint.
    kept = sorted(glob.glob(osp.join(work_dir, 'iter_*.pth')))
    assert [osp.basename(p) for p in kept] == [f'iter_{failed - 1}.pth']
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert osp.samefile(f.read().strip(), kept[0])
    state = load_checkpoint_safely(kept[0])['state_dict']
    assert nonfinite_tensors(state.items()) == []
    # No export of the diverged student.
    exported = [
        name for _, _, names in os.walk(work_dir) for name in names
        if name == 'student.pth'
    ]
    assert exported == []
