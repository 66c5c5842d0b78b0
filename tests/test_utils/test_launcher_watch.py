"""A process started by torchrun dies with its launcher."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

# The launcher: starts a worker (its argv) and prints the worker's pid.
LAUNCHER = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, '-c'] + sys.argv[1:],
                          start_new_session=True)
print(worker.pid, flush=True)
worker.wait()
"""
# The worker: ties itself to the launcher (with the Linux parent-death
# signal, or with the polling thread only), says so, then would live on.
WORKER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location(
    'launcher_watch', sys.argv[1] + '/mmokd/utils/launcher_watch.py')
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
if sys.argv[2] == 'thread':
    module._set_parent_death_signal = lambda: False
module.exit_with_launcher()
print('tied', flush=True)
time.sleep(120)
"""


def alive(pid):
    """Whether ``pid`` runs (a zombie nobody reaped counts as gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


@pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='reads /proc')
@pytest.mark.parametrize('mode', ['prctl', 'thread'])
def test_worker_exits_within_seconds_of_a_killed_launcher(mode):
    env = dict(os.environ, TORCHELASTIC_RUN_ID='test')
    launcher = subprocess.Popen(
        [sys.executable, '-c', LAUNCHER, WORKER, REPO, mode],
        env=env,
        stdout=subprocess.PIPE,
        text=True)
    worker = int(launcher.stdout.readline())
    assert launcher.stdout.readline() == 'tied\n'
    assert alive(worker)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait(timeout=30)
    start = time.monotonic()
    while alive(worker) and time.monotonic() - start < 10:
        time.sleep(0.1)
    assert not alive(worker), f'worker {worker} outlived its launcher'
    assert time.monotonic() - start < 3


def test_process_not_started_by_torchrun_is_left_alone():
    env = {
        k: v
        for k, v in os.environ.items() if k != 'TORCHELASTIC_RUN_ID'
    }
    launcher = subprocess.Popen(
        [sys.executable, '-c', LAUNCHER, WORKER, REPO, 'prctl'],
        env=env,
        stdout=subprocess.PIPE,
        text=True)
    worker = int(launcher.stdout.readline())
    assert launcher.stdout.readline() == 'tied\n'
    launcher.send_signal(signal.SIGKILL)
    launcher.wait(timeout=30)
    time.sleep(1.5)
    try:
        assert alive(worker)
    finally:
        os.kill(worker, signal.SIGKILL)
