"""A hostile tiny Cityscapes: tools/misc/check_dataset.py names every bad
file, and training stops at the first invalid label naming its file."""
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from mmokd.datasets import write_tiny_cityscapes
from tests.conftest import REPO, python, run_tool
from tests.test_tools.test_train_e2e import SEG_DEMO, seg_options

BAD_LABEL = 'gtFine/train/bochum/bochum_000001_000019_gtFine_labelTrainIds.png'
TRUNCATED = 'leftImg8bit/val/frankfurt/frankfurt_000000_000019_leftImg8bit.png'


def put_label(root, relative, value):
    """Writes ``value`` into the top-left block of a label map."""
    path = osp.join(root, relative)
    label = np.array(Image.open(path))
    label[:8, :16] = value
    Image.fromarray(label, 'L').save(path)


@pytest.fixture(scope='module')
def hostile_cityscapes(tmp_path_factory):
    """Tiny Cityscapes with label 30 in one training map and one truncated
    validation image."""
    root = write_tiny_cityscapes(str(tmp_path_factory.mktemp('hostile')))
    put_label(root, BAD_LABEL, 30)
    path = osp.join(root, TRUNCATED)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    return root


def data_roots(root):
    return [
        f'{split}_dataloader.dataset.data_root={root}'
        for split in ('train', 'val', 'test')
    ]


def test_check_dataset_names_every_bad_file(hostile_cityscapes):
    proc = run_tool([
        python(), 'tools/misc/check_dataset.py', SEG_DEMO, '--workers', '2',
        '--cfg-options'
    ] + data_roots(hostile_cityscapes))
    assert proc.returncode == 1, proc.stderr[-3000:]
    bad = [line for line in proc.stdout.splitlines() if 'BAD' in line]
    assert len(bad) == 2, proc.stdout
    assert osp.join(hostile_cityscapes, BAD_LABEL) in bad[0]
    assert 'label 30 outside [0, 19) and not the ignore index 255' in bad[0]
    assert osp.join(hostile_cityscapes, TRUNCATED) in bad[1]
    assert 'train_dataloader: 1 bad of 4' in proc.stdout
    assert 'val_dataloader: 1 bad of 2' in proc.stdout
    assert 'test_dataloader: same dataset as val_dataloader' in proc.stdout


def test_check_dataset_passes_a_good_dataset(tiny_cityscapes, monkeypatch,
                                             capsys):
    # In this process (the tool's command line, without a second start).
    monkeypatch.setattr(sys, 'argv', [
        'check_dataset.py', SEG_DEMO, '--workers', '1', '--cfg-options'
    ] + data_roots(tiny_cityscapes))
    with pytest.raises(SystemExit) as status:
        runpy.run_path(
            osp.join(REPO, 'tools/misc/check_dataset.py'),
            run_name='__main__')
    assert status.value.code == 0
    out = capsys.readouterr().out
    assert 'BAD' not in out
    assert 'train_dataloader: 0 bad of 4' in out
    assert out.rstrip().endswith('all samples are good')


def test_training_names_the_file_of_an_invalid_label(tmp_path):
    root = write_tiny_cityscapes(str(tmp_path / 'data'))
    train_maps = sorted(
        osp.join(folder, name) for folder, _, names in os.walk(
            osp.join(root, 'gtFine/train')) for name in names)
    for path in train_maps:
        put_label(root, path, 30)
    proc = run_tool(
        [
            python(), 'tools/train.py', SEG_DEMO, '--work-dir',
            str(tmp_path / 'work'), '--cfg-options'
        ] + seg_options(root),
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode != 0
    assert 'ValueError: train_dataloader: label 30 outside [0, 19) and not ' \
        'the ignore index 255 in img_path=' in proc.stderr
    named = [path for path in train_maps if path in proc.stderr]
    assert len(named) == 1, proc.stderr[-3000:]
    assert 'out of bounds' not in proc.stderr
    assert 'Iter(train)' not in proc.stdout + proc.stderr
