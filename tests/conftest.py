"""Shared fixtures: tiny datasets in real formats, repo paths."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmokd.datasets import (write_tiny_cifar100, write_tiny_cityscapes,
                            write_tiny_coco)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(autouse=True)
def isolated_default_scope():
    """Every test starts with the default scopes that existed before it:
    a test that builds a Runner (or calls ``init_default_scope``) would
    otherwise set the registry scope of every later test in the process."""
    from mmengine.registry import DefaultScope
    before = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(before)


@pytest.fixture(scope='session')
def tiny_cityscapes(tmp_path_factory):
    """Cityscapes-format set: 2 train cities x 2, 1 val city x 2, 128x64."""
    return write_tiny_cityscapes(str(tmp_path_factory.mktemp('cityscapes')))


@pytest.fixture(scope='session')
def tiny_cifar100(tmp_path_factory):
    """CIFAR-100 python-format set: 64 train, 32 test images."""
    return write_tiny_cifar100(str(tmp_path_factory.mktemp('cifar100')))


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """COCO 2017-format set: 8 train, 4 val images of 160x128."""
    return write_tiny_coco(str(tmp_path_factory.mktemp('coco')))


def run_tool(args, cwd=REPO, env=None, timeout=900):
    """Runs a repo command; returns the completed process (never raises)."""
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True)


def python():
    """The interpreter running the tests."""
    return sys.executable


def dist_env():
    """Environment of a ``tools/dist_train.sh`` run on CPU: this
    interpreter, one thread per process, a port of this test process."""
    env = dict(os.environ, PYTHON=python(), OMP_NUM_THREADS='1')
    env['PORT'] = str(29500 + os.getpid() % 1000)
    return env


def dist_train(cfg, work_dir, options=(), args=(), processes=2, check=True):
    """Trains as users launch it: ``tools/dist_train.sh CONFIG N
    --work-dir W [args] [--cfg-options options]`` (gloo on CPU).

    Args:
        cfg (str): Config file.
        work_dir (str): Work directory.
        options (list[str]): ``--cfg-options`` entries.
        args (list[str]): Other ``tools/train.py`` arguments.
        processes (int): Number of training processes.
        check (bool): Assert that the run succeeded.

    Returns:
        CompletedProcess: With ``log``, its stdout and stderr together.
    """
    command = ['bash', 'tools/dist_train.sh', cfg, str(processes),
               '--work-dir', work_dir, *args]
    if options:
        command += ['--cfg-options', *options]
    proc = run_tool(command, env=dist_env())
    proc.log = proc.stdout + proc.stderr
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc
