"""``tools/benchmarks/gpu_suite.sh --device cpu --quick`` end to end: one
Markdown table with every row of the suite; measured rows hold numbers,
the others say why they were not measured."""
import os
import re

from tests.conftest import python, run_tool

COLUMNS = [
    'benchmark', 'task', 'precision', 'size', 'batch', 'variant', 's/iter',
    'peak MiB', 'operators', 'time ratio', 'memory ratio', 'ratio to', 'note'
]
ONLINE_KD = [
    'plain_student', 'plain_teacher', 'mmokd_dml', 'mmrazor_std',
    'mmokd_dml_adm', 'mmokd_dml_adm_fused', 'mmokd_switokd_expert',
    'mmokd_kdcl', 'mmokd_mcdistil', 'mmokd_mcdistil_meta'
]
#: Variants the quick mode does not run.
SKIPPED = ['mmokd_dml_adm_fused', 'mmokd_mcdistil', 'mmokd_mcdistil_meta']
GPD = ['plain_student', 'gpd', 'gpd_teacher']
NUMBER = re.compile(r'^\d+(\.\d+)?$')


def table(text):
    lines = [line for line in text.splitlines() if line.startswith('|')]
    cells = [[c.strip() for c in line.strip('|').split('|')] for line in lines]
    assert cells[0] == COLUMNS and set(''.join(cells[1])) == {'-'}
    return [dict(zip(COLUMNS, row)) for row in cells[2:]]


def test_quick_cpu_run_writes_every_row(tmp_path):
    out = tmp_path / 'suite.md'
    env = dict(os.environ, PYTHON=python(), OMP_NUM_THREADS='1')
    proc = run_tool([
        'bash', 'tools/benchmarks/gpu_suite.sh',
        str(out), '--device', 'cpu', '--quick'
    ],
                    env=env,
                    timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert 'mode quick' in text and 'torch ' in text
    rows = table(text)
    expected = [(bench, task, precision, name)
                for task in ('cls', 'seg')
                for bench, names in (('online_kd', ONLINE_KD), ('gpd', GPD))
                for precision in ('fp32', 'amp') for name in names]
    expected += [('online_kd', f'det {pair}', '-', name)
                 for pair in ('retinanet', 'faster_rcnn')
                 for name in ONLINE_KD]
    assert sorted((r['benchmark'], r['task'], r['precision'], r['variant'])
                  for r in rows) == sorted(expected)
    for row in rows:
        if row['task'].startswith('det'):
            assert row['s/iter'] == '-', row
            assert row['note'] == 'not measured: skipped by --quick', row
            continue
        if row['precision'] == 'amp':
            assert row['s/iter'] == '-', row
            assert row['note'].startswith('not measured: '), row
            continue
        if row['s/iter'] == '-':  # a variant --quick skips
            assert row['variant'] in SKIPPED, row
            assert row['note'].startswith('skipped by --quick'), row
            continue
        assert float(row['s/iter']) > 0, row
        assert NUMBER.match(row['peak MiB']), row
        if row['benchmark'] == 'online_kd':
            assert int(row['operators']) > 100, row
        if row['ratio to'] != '-':
            assert float(row['time ratio']) > 0, row
        if row['variant'] == 'gpd':
            assert re.match(r'^FLOP estimate x\d\.\d\d$', row['note']), row
    sizes = {(r['benchmark'], r['task']): (r['size'], r['batch'])
             for r in rows}
    assert sizes[('online_kd', 'cls')] == ('32x32', '2')
    assert sizes[('gpd', 'seg')] == ('32x32', '2')


ROW = re.compile(r'^(\w+) +(\d+\.\d+) +(-?\d+\.\d+) +(\d+)$')
DET_RUN = [
    'plain_student', 'plain_teacher', 'mmokd_dml', 'mmrazor_std', 'mmokd_kdcl'
]


def test_det_benchmark_prints_every_row(tmp_path):
    """``benchmark_online_kd.py --task det`` on the tiny RetinaNet pair of
    the shipped configs: every asked variant measured, the ones detection
    lacks named with the reason, and the suite's table rows of the run."""
    record = tmp_path / 'det.json'
    proc = run_tool([
        python(), 'tools/benchmarks/benchmark_online_kd.py', '--task', 'det',
        '--pair', 'retinanet', '--tiny', '--size', '64', '64', '--iters', '1',
        '--warmup', '0', '--memory-steps', '1', '--memory-in-process',
        '--json',
        str(record), '--variants'
    ] + DET_RUN,
                    env=dict(os.environ, OMP_NUM_THREADS='1'),
                    timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert ('task=det pair=retinanet size=[64, 64] batch=2 device=cpu '
            'amp=False iters=1 (median)') in lines
    assert ('mmokd_dml_adm_fused: not measured (DetADMDistiller has no '
            'fused path)') in lines
    ops = {
        match[1]: int(match[4])
        for match in map(ROW.match, lines) if match
    }
    assert list(ops) == DET_RUN
    # R101 dispatches more than R18; DML runs both networks and its terms.
    assert 500 < ops['plain_student'] < ops['plain_teacher']
    assert ops['mmokd_dml'] > ops['plain_student'] + ops['plain_teacher']
    assert ops['mmrazor_std'] > ops['plain_student'] + ops['plain_teacher']
    # KDCL: DML's terms on the assigned priors plus the MinLogit ensemble.
    assert ops['mmokd_kdcl'] > ops['mmokd_dml']
    for label in ('time   mmokd_dml / sum(plain)',
                  'time   mmokd_dml / mmrazor_std',
                  'operators mmokd_kdcl / mmokd_dml'):
        assert any(re.match(re.escape(label) + r' += \d+\.\d{3}$', line)
                   for line in lines), label
    out = tmp_path / 'table.md'
    proc = run_tool([
        python(), 'tools/benchmarks/suite_table.py',
        str(out),
        str(record), '--skipped', 'online_kd:det faster_rcnn=skipped'
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {(r['task'], r['variant']): r for r in table(out.read_text())}
    assert sorted(rows) == sorted((f'det {pair}', name)
                                  for pair in ('retinanet', 'faster_rcnn')
                                  for name in ONLINE_KD)
    for name in DET_RUN:
        row = rows[('det retinanet', name)]
        assert row['precision'] == 'fp32' and row['size'] == '64x64', row
        assert int(row['operators']) == ops[name], row
    assert rows[('det retinanet', 'mmokd_dml')]['ratio to'] == \
        'plain_student + plain_teacher'
    assert float(rows[('det retinanet', 'mmokd_kdcl')]['time ratio']) > 0
    assert rows[('det retinanet', 'mmokd_mcdistil')]['note'] == \
        'MC-Distil has no detection support'
    assert rows[('det faster_rcnn', 'mmokd_dml')]['note'] == \
        'not measured: skipped'
