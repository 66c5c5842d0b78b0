"""Shared fixtures: tiny datasets in real formats, repo paths."""
import os.path as osp
import subprocess
import sys

import pytest

from mmokd.datasets import write_tiny_cifar100, write_tiny_cityscapes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def tiny_cityscapes(tmp_path_factory):
    """Cityscapes-format set: 2 train cities x 2, 1 val city x 2, 128x64."""
    return write_tiny_cityscapes(str(tmp_path_factory.mktemp('cityscapes')))


@pytest.fixture(scope='session')
def tiny_cifar100(tmp_path_factory):
    """CIFAR-100 python-format set: 64 train, 32 test images."""
    return write_tiny_cifar100(str(tmp_path_factory.mktemp('cifar100')))


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
