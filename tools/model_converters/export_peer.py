"""Exports one peer of an online distillation checkpoint.

The output loads with ``strict=True`` into the plain mmseg / mmpretrain
model of that peer's original config, e.g.::

    python tools/model_converters/export_peer.py \
        work_dirs/dml/iter_80000.pth student_r18.pth --peer student

Peers that share parameters with others (GPD's student) are extracted by
the algorithm, rebuilt from the training config given with ``--config``
(the config text stored in a checkpoint is never executed).
"""
import argparse

import mmokd  # noqa: F401  (registration)
from mmokd.utils import CheckpointRefusedError, export_peer


def main() -> None:
    """Parses the command line and exports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='online distillation checkpoint')
    parser.add_argument('out', help='output file (must not exist)')
    parser.add_argument(
        '--peer', default='student', help='peer to export (student)')
    parser.add_argument(
        '--config',
        help='training config file, to rebuild the algorithm (needed when '
        'the peer is not stored under its own prefix, e.g. GPD\'s student)')
    args = parser.parse_args()
    try:
        print(export_peer(args.checkpoint, args.out, args.peer, args.config))
    except (CheckpointRefusedError, FileExistsError, FileNotFoundError,
            KeyError) as error:
        parser.exit(2, f'export_peer: {error.args[0]}\n')


if __name__ == '__main__':
    main()
