"""The learning benchmark: its data, its configs (the "own data" recipe),
its statistics, and a --quick run end to end."""
import importlib.util
import os.path as osp
import time

import pytest

from mmokd.models.tasks import ClsTask
from mmokd.registry import MODELS
from mmokd.utils import check_views
from tests.conftest import REPO, python, run_tool

SCRIPT = osp.join(REPO, 'tools/benchmarks/learning_check.py')
spec = importlib.util.spec_from_file_location('learning_check', SCRIPT)
learning_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(learning_check)


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('digits'))
    return root, learning_check.write_digits(root)


def read_list(root, name):
    with open(osp.join(root, 'meta', f'{name}.txt')) as f:
        return [line.split() for line in f]


def test_digits_split_is_stratified_disjoint_and_mixed(digits):
    root, stats = digits
    test = read_list(root, 'test')
    full = read_list(root, 'train_full')
    small = read_list(root, 'train_small')
    assert (len(test), len(full), len(small)) == (497, 1300, 300)
    assert stats['train_small'] == 300 and 0 < stats['mean'] < 255
    assert not {p for p, _ in test} & {p for p, _ in full}
    assert {p for p, _ in small} <= {p for p, _ in full}
    assert all(
        sum(label == str(c) for _, label in small) == 30 for c in range(10))
    # Shuffled lists: a slice (KDCL-General's held-out part) mixes classes.
    assert len({label for _, label in small[-30:]}) > 5
    # Written once: a second call reads the stored statistics.
    assert learning_check.write_digits(root) == stats


def setting(stats, epochs=1):
    return dict(
        ann_file='meta/train_small.txt',
        images=stats['train_small'],
        epochs=epochs,
        batch_size=32,
        mean=stats['mean'],
        std=stats['std'])


@pytest.mark.parametrize(
    'method', list(learning_check.METHODS), ids=lambda m: m.replace(' ', '_'))
def test_every_method_config_builds_with_ten_classes(digits, tmp_path, method):
    """The shipped configs re-pointed at the digits by the overlay: one
    ``model.num_classes`` sets every network's head."""
    root, stats = digits
    cfg = learning_check.method_config(method, setting(stats), 0, root,
                                       str(tmp_path), 'teacher.pth')
    check_views(cfg)
    model_cfg = dict(cfg.model)
    model_cfg.pop('init_cfg', None)
    if model_cfg.get('frozen_peers'):
        model_cfg['peers'] = dict(model_cfg['peers'])
        model_cfg['peers']['teacher'] = dict(model_cfg['peers']['teacher'])
        model_cfg['peers']['teacher'].pop('init_cfg')
    model = MODELS.build(model_cfg)
    if method.endswith('alone'):
        assert ClsTask().num_classes(model) == 10
    else:
        assert set(model.class_counts().values()) == {10}
    pipeline = cfg.train_dataloader.dataset.pipeline
    views = cfg.data_preprocessor.get('num_views', 1)
    assert (pipeline[0]['type'] == 'MultiView') == (views > 1)


def test_paired_gains_and_table():
    records = [
        dict(
            setting='small',
            method=m,
            seed=s,
            top1=t,
            peer_top1=None,
            seconds=1.0,
            losses=None)
        for m, s, t in [('student alone', 0,
                         90.0), ('student alone', 1,
                                 92.0), ('DML', 0, 91.0), ('DML', 1, 91.5)]
    ]
    table = learning_check.paired_gains(records, 'small')
    assert table['DML']['gain'] == [1.0, -0.5]
    text = learning_check.markdown_table(table, ('student alone', 'DML'))
    assert '| DML | 91.25 ± 0.35 | 0.25 ± 1.06 | 1 of 2 |' in text


def test_quick_mode_end_to_end(tmp_path):
    doc = tmp_path / 'docs' / 'learning.md'
    doc.parent.mkdir()
    doc.write_text('# Title\n\nprose\n\n' + learning_check.BEGIN + '\nold\n' +
                   learning_check.END + '\n\nmore prose\n')
    start = time.perf_counter()
    proc = run_tool([
        python(), SCRIPT, '--quick', '--data-root',
        str(tmp_path / 'digits'), '--work-dir',
        str(tmp_path / 'work'), '--doc',
        str(doc)
    ])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert time.perf_counter() - start < 120
    text = doc.read_text()
    assert text.startswith('# Title\n\nprose') and 'more prose' in text
    assert '\nold\n' not in text
    for method in ('student alone', 'teacher alone') + \
            learning_check.QUICK:
        assert f'| {method} |' in text, method
    assert 'loss_adm_feat' in text and 'Wall time' in text
    assert (tmp_path / 'docs' / 'learning.png').stat().st_size > 1000
