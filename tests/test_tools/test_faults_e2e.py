"""Faults around a 2-process run of tools/dist_train.sh: a second run in
its work_dir is refused, killing the launcher stops the training processes,
and the next run takes the stale lock over."""
import glob
import hashlib
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest

from mmokd.utils.work_dir_lock import LOCK_NAME, hold_work_dir
from tests.conftest import REPO, python, run_tool
from tests.test_tools.test_train_e2e import cls_config
from tests.test_utils.test_launcher_watch import alive


def children(pid):
    """Pids whose parent is ``pid``."""
    found = []
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            fields = open(stat).read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split('/')[2]))
    return found


def checkpoints(work_dir):
    """Checkpoint name -> (size, mtime)."""
    return {
        osp.basename(p): (os.stat(p).st_size, os.stat(p).st_mtime_ns)
        for p in glob.glob(osp.join(work_dir, '*.pth'))
    }


def digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def wait_for(condition, timeout, process):
    start = time.monotonic()
    while not condition():
        assert process.poll() is None, 'the run ended early'
        assert time.monotonic() - start < timeout, 'timed out'
        time.sleep(0.2)


@pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='reads /proc')
def test_killed_launcher_stops_its_workers_and_the_work_dir_is_locked(
        tmp_path, tiny_cifar100):
    cfg = cls_config(tmp_path, tiny_cifar100, epochs=1000)
    work_dir = str(tmp_path / 'work')
    env = dict(
        os.environ,
        PYTHON=python(),
        OMP_NUM_THREADS='1',
        PYTHONPATH=REPO,
        PORT=str(31000 + os.getpid() % 1000))
    log = open(tmp_path / 'first.log', 'w')
    first = subprocess.Popen(
        [
            'bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', work_dir,
            '--no-validate', '--cfg-options',
            'default_hooks.checkpoint.max_keep_ckpts=3'
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT)
    lock_file = osp.join(work_dir, LOCK_NAME)
    try:
        wait_for(lambda: osp.exists(lock_file) and os.path.getsize(lock_file),
                 300, first)
        owner = json.load(open(lock_file))
        # A second run (a resume, say) in the same work_dir is refused
        # before it writes anything, while the first one goes on.
        second = run_tool(
            [python(), 'tools/train.py', cfg, '--work-dir', work_dir,
             '--resume'],
            env=env)
        assert second.returncode != 0
        assert (f'is in use by a live run: pid {owner["pid"]} on host '
                f'{owner["host"]} (launcher pid {first.pid})'
                in second.stderr), second.stderr[-3000:]
        wait_for(lambda: osp.exists(osp.join(work_dir, 'last_checkpoint')),
                 300, first)
        # One log folder: the first run's.
        assert len(next(os.walk(work_dir))[1]) == 1
        workers = children(first.pid)
        assert len(workers) == 2 and owner['pid'] in workers, workers
        # SIGKILL to the launcher: its training processes go within
        # seconds and write no checkpoint afterwards.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        killed = time.monotonic()
        while any(map(alive, workers)) and time.monotonic() - killed < 10:
            time.sleep(0.1)
        assert not any(map(alive, workers)), 'workers outlived the launcher'
        assert time.monotonic() - killed < 5
        written = checkpoints(work_dir)
        time.sleep(3)
        assert checkpoints(work_dir) == written
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    # The killed run's lock is stale: the next run takes it over with a
    # warning naming the killed process, and the checkpoints stay.
    kept = {name: digest(osp.join(work_dir, name)) for name in written}
    with pytest.warns(UserWarning) as record:
        lock = hold_work_dir(work_dir, 'none')
    assert (f'taking over the lock of a run that ended without releasing it '
            f'(pid {owner["pid"]} on host {owner["host"]} (launcher pid '
            f'{first.pid})' in str(record[0].message))
    lock.release()
    assert {name: digest(osp.join(work_dir, name)) for name in kept} == kept
