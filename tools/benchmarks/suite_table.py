"""The Markdown table of ``gpu_suite.sh`` from its benchmarks' JSON files.

Every expected row is written: a measured variant with its figures and its
ratios to the variant it is compared with in ``docs/benchmarks.md``, an
unmeasured one (a precision the device cannot run, a variant the checkout
or the task does not have, a run the suite skipped) with the reason.
Detection runs are told apart by their pair (task ``det retinanet``).

Example::

    python tools/benchmarks/suite_table.py OUT.md a.json b.json \\
        --header 'NVIDIA H100 80GB, 2026-12-01' \\
        --missing 'amp=AMP needs CUDA' --note 'mmokd_kdcl=not run' \\
        --skipped 'online_kd:det faster_rcnn=skipped by --quick'
"""
import argparse
import json
from typing import Dict, List, Optional, Sequence, Tuple

#: Variants of each benchmark script, in table order.
EXPECTED = dict(
    online_kd=('plain_student', 'plain_teacher', 'mmokd_dml', 'mmrazor_std',
               'mmokd_dml_adm', 'mmokd_dml_adm_fused',
               'mmokd_switokd_expert', 'mmokd_kdcl', 'mmokd_mcdistil',
               'mmokd_mcdistil_meta'),
    gpd=('plain_student', 'gpd', 'gpd_teacher'))
#: What each variant's ratios are taken against (a sum of variants).
REFERENCE = dict(
    mmokd_dml=('plain_student', 'plain_teacher'),
    mmrazor_std=('mmokd_dml', ),
    mmokd_dml_adm=('mmokd_dml', ),
    mmokd_dml_adm_fused=('mmokd_dml', ),
    mmokd_switokd_expert=('mmokd_dml', ),
    mmokd_kdcl=('mmokd_dml', ),
    mmokd_mcdistil=('mmokd_dml', ),
    mmokd_mcdistil_meta=('mmokd_dml', ),
    gpd=('plain_student', ),
    gpd_teacher=('plain_student', ))
COLUMNS = ('benchmark', 'task', 'precision', 'size', 'batch', 'variant',
           's/iter', 'peak MiB', 'operators', 'time ratio', 'memory ratio',
           'ratio to', 'note')
#: Written where a figure does not exist.
NONE = '-'


def _ratio(variants: dict, name: str, key: str) -> str:
    """``variants[name][key]`` over the sum of its reference's, or NONE."""
    refs = REFERENCE.get(name, ())
    if not refs or any(ref not in variants for ref in refs):
        return NONE
    total = sum(variants[ref][key] for ref in refs)
    return f'{variants[name][key] / total:.3f}' if total > 0 else NONE


def _note(record: dict, name: str) -> str:
    """The benchmark's note on ``name``, or the FLOP estimate of GPD."""
    if name in record.get('notes', {}):
        return record['notes'][name]
    flops = record.get('flop_ratio', {}).get(name)
    return f'FLOP estimate x{flops:.2f}' if flops else ''


def rows_of(record: dict,
            notes: Optional[Dict[str, str]] = None) -> List[Tuple[str, ...]]:
    """The table rows of one benchmark run (its JSON record).

    Args:
        record (dict): Written by ``measurement.write_json``.
        notes (dict, optional): ``{variant: why it was not run}``.

    Returns:
        list[tuple]: One row (:data:`COLUMNS`) per expected variant.
    """
    notes = dict(notes or {}, **record.get('notes', {}))
    variants = record['variants']
    precision = 'amp' if record['amp'] else 'fp32'
    head = (record['script'], task_of(record), precision,
            'x'.join(map(str, record['size'])), str(record['batch']))
    rows = []
    for name in EXPECTED[record['script']]:
        if name not in variants:
            note = notes.get(name, 'not available in this checkout')
            rows.append(head + (name, ) + (NONE, ) * 6 + (note, ))
            continue
        figures = variants[name]
        operators = figures.get('operators')
        rows.append(head + (
            name, f"{figures['seconds']:.4f}", f"{figures['memory_mib']:.1f}",
            NONE if operators is None else str(operators),
            _ratio(variants, name, 'seconds'),
            _ratio(variants, name, 'memory_mib'),
            ' + '.join(REFERENCE.get(name, ())) or NONE,
            _note(record, name)))
    return rows


def task_of(record: dict) -> str:
    """The task column of a record: the task, and a detection pair."""
    return ' '.join(filter(None, (record['task'], record.get('pair'))))


def skipped_rows(spec: str) -> List[Tuple[str, ...]]:
    """Rows of a benchmark run the suite did not make, with the reason.

    Args:
        spec (str): ``SCRIPT:TASK=REASON`` (``TASK`` as :func:`task_of`
            writes it).

    Returns:
        list[tuple]: One row per expected variant (precision, size and
        batch :data:`NONE`).
    """
    run, _, reason = spec.partition('=')
    script, _, task = run.partition(':')
    return [(script, task, NONE, NONE, NONE, name) + (NONE, ) * 6 +
            (f'not measured: {reason}', ) for name in EXPECTED[script]]


def missing_rows(spec: str, script: str, task: str, size: str,
                 batch: str) -> List[Tuple[str, ...]]:
    """Rows of a run that was not made, each with the reason.

    Args:
        spec (str): ``PRECISION=REASON``.
        script (str): The benchmark (a key of :data:`EXPECTED`).
        task (str): The task column (:func:`task_of`).
        size (str): ``HxW``.
        batch (str): Batch size.

    Returns:
        list[tuple]: One row per expected variant.
    """
    precision, _, reason = spec.partition('=')
    return [(script, task, precision, size, batch, name) + (NONE, ) * 6 +
            (f'not measured: {reason}', ) for name in EXPECTED[script]]


def markdown(rows: Sequence[Tuple[str, ...]], header: str) -> str:
    """The Markdown document: the header line, then the table."""
    lines = [f'# mmokd benchmark suite\n\n{header}\n',
             '| ' + ' | '.join(COLUMNS) + ' |',
             '|' + '---|' * len(COLUMNS)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='the Markdown file to write')
    parser.add_argument('records', nargs='*', help='JSON files')
    parser.add_argument('--header', default='', help='line above the table')
    parser.add_argument(
        '--missing',
        action='append',
        default=[],
        metavar='PRECISION=REASON',
        help='a precision not measured, and why (for every run of the '
        'measured precision)')
    parser.add_argument(
        '--note',
        action='append',
        default=[],
        metavar='VARIANT=REASON',
        help='why a variant was not run')
    parser.add_argument(
        '--skipped',
        action='append',
        default=[],
        metavar='SCRIPT:TASK=REASON',
        help='a benchmark run not made, and why')
    args = parser.parse_args(argv)
    notes = dict(spec.split('=', 1) for spec in args.note)
    records: List[Dict] = []
    for path in args.records:
        with open(path) as file:
            records.append(json.load(file))
    rows = []
    for record in records:
        rows += rows_of(record, notes)
        for spec in args.missing:
            rows += missing_rows(spec, record['script'], task_of(record),
                                 'x'.join(map(str, record['size'])),
                                 str(record['batch']))
    for spec in args.skipped:
        rows += skipped_rows(spec)
    with open(args.out, 'w') as file:
        file.write(markdown(rows, args.header))


if __name__ == '__main__':
    main()
