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
    'mmokd_kdcl'
]
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
    assert sorted((r['benchmark'], r['task'], r['precision'], r['variant'])
                  for r in rows) == sorted(expected)
    for row in rows:
        if row['precision'] == 'amp':
            assert row['s/iter'] == '-', row
            assert row['note'].startswith('not measured: '), row
            continue
        if row['s/iter'] == '-':  # only a variant the checkout lacks
            assert row['variant'] == 'mmokd_dml_adm_fused', row
            assert row['note'], row
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
