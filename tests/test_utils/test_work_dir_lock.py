"""One live run per work_dir: refusal, release, stale-lock takeover."""
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys

import pytest

from mmokd.utils.work_dir_lock import (LOCK_NAME, WorkDirLockedError,
                                       hold_work_dir)
from tests.conftest import REPO

# Takes the lock in a separate process, says so, and waits for a line on
# stdin before exiting normally. Loads only the lock module (fast).
HOLDER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location(
    'work_dir_lock', sys.argv[1] + '/mmokd/utils/work_dir_lock.py')
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.hold_work_dir(sys.argv[2], 'none')
print('held', flush=True)
sys.stdin.readline()
"""


def start_holder(work_dir):
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLDER, REPO,
         str(work_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True)
    assert holder.stdout.readline() == 'held\n'
    return holder


def user_files(work_dir):
    return {
        name: open(osp.join(work_dir, name), 'rb').read()
        for name in os.listdir(work_dir) if name != LOCK_NAME
    }


@pytest.fixture
def work_dir(tmp_path):
    """A work_dir with a user's checkpoint and notes in it."""
    (tmp_path / 'iter_8000.pth').write_bytes(b'user checkpoint')
    (tmp_path / 'notes.txt').write_text('keep me')
    return tmp_path


def test_live_run_refuses_a_second_and_releases_on_exit(work_dir):
    holder = start_holder(work_dir)
    owner = json.load(open(work_dir / LOCK_NAME))
    assert owner['pid'] == holder.pid
    assert owner['host'] == socket.gethostname()
    with pytest.raises(WorkDirLockedError) as error:
        hold_work_dir(str(work_dir), 'none')
    message = str(error.value)
    assert f'pid {holder.pid} on host {socket.gethostname()}' in message
    assert str(work_dir) in message and owner['started'] in message
    # The refused attempt left the holder's record and the user's files.
    assert json.load(open(work_dir / LOCK_NAME)) == owner
    holder.communicate('\n', timeout=30)
    assert holder.returncode == 0
    assert not (work_dir / LOCK_NAME).exists()
    assert user_files(work_dir) == {
        'iter_8000.pth': b'user checkpoint',
        'notes.txt': b'keep me'
    }


def test_stale_lock_of_a_killed_run_is_taken_over(work_dir):
    holder = start_holder(work_dir)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    stale = json.load(open(work_dir / LOCK_NAME))
    assert stale['pid'] == holder.pid
    with pytest.warns(UserWarning, match='taking over the lock') as record:
        lock = hold_work_dir(str(work_dir), 'none')
    assert f'pid {holder.pid}' in str(record[0].message)
    assert json.load(open(work_dir / LOCK_NAME))['pid'] == os.getpid()
    lock.release()
    assert not (work_dir / LOCK_NAME).exists()
    assert user_files(work_dir) == {
        'iter_8000.pth': b'user checkpoint',
        'notes.txt': b'keep me'
    }


@pytest.mark.parametrize('launcher, variable', [('pytorch', 'RANK'),
                                                ('slurm', 'SLURM_PROCID'),
                                                ('mpi',
                                                 'OMPI_COMM_WORLD_RANK')])
def test_only_global_rank_zero_takes_the_lock(tmp_path, monkeypatch,
                                              launcher, variable):
    monkeypatch.setenv(variable, '1')
    assert hold_work_dir(str(tmp_path / 'work'), launcher) is None
    assert not (tmp_path / 'work').exists()
    monkeypatch.setenv(variable, '0')
    lock = hold_work_dir(str(tmp_path / 'work'), launcher)
    assert (tmp_path / 'work' / LOCK_NAME).exists()
    lock.release()
