"""tools/dataset_converters/tiny_imagenet.py on a TinyImageNet-200 folder
of the official layout (two classes)."""
import os

import numpy as np
from mmpretrain.datasets import CustomDataset
from PIL import Image

from tests.conftest import python, run_tool


def write_tiny_imagenet(root):
    """wnids.txt, train/<wnid>/images/*.JPEG, val/images + annotations."""
    rng = np.random.default_rng(0)
    wnids = ['n02', 'n01']  # unsorted on purpose: labels follow sorting

    def image(path):
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path)

    root.mkdir()
    (root / 'wnids.txt').write_text('\n'.join(wnids) + '\n')
    for wnid in wnids:
        folder = root / 'train' / wnid / 'images'
        folder.mkdir(parents=True)
        for i in range(2):
            image(folder / f'{wnid}_{i}.JPEG')
    (root / 'val' / 'images').mkdir(parents=True)
    rows = []
    for i, wnid in enumerate(['n01', 'n02', 'n02']):
        image(root / 'val' / 'images' / f'val_{i}.JPEG')
        rows.append(f'val_{i}.JPEG\t{wnid}\t0\t0\t63\t63')
    (root / 'val' / 'val_annotations.txt').write_text('\n'.join(rows) + '\n')


def test_writes_custom_dataset_annotations(tmp_path):
    root = tmp_path / 'tiny-imagenet-200'
    write_tiny_imagenet(root)
    tool = 'tools/dataset_converters/tiny_imagenet.py'
    proc = run_tool([python(), tool, str(root)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = root / 'meta'
    assert (meta / 'classes.txt').read_text().split() == ['n01', 'n02']
    assert (meta / 'train.txt').read_text().splitlines() == [
        'train/n01/images/n01_0.JPEG 0', 'train/n01/images/n01_1.JPEG 0',
        'train/n02/images/n02_0.JPEG 1', 'train/n02/images/n02_1.JPEG 1'
    ]
    assert (meta / 'val.txt').read_text().splitlines() == [
        'val/images/val_0.JPEG 0', 'val/images/val_1.JPEG 1',
        'val/images/val_2.JPEG 1'
    ]
    dataset = CustomDataset(
        data_root=str(root),
        ann_file='meta/val.txt',
        pipeline=[dict(type='LoadImageFromFile')])
    assert dataset[2]['img'].shape == (64, 64, 3)
    assert dataset.get_gt_labels().tolist() == [0, 1, 1]
    # A second run refuses to overwrite the files.
    before = (meta / 'train.txt').stat().st_mtime_ns
    again = run_tool([python(), tool, str(root)])
    assert again.returncode != 0 and 'exist already' in again.stderr
    assert (meta / 'train.txt').stat().st_mtime_ns == before
    assert sorted(os.listdir(meta)) == ['classes.txt', 'train.txt', 'val.txt']
