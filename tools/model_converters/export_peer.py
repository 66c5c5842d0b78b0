"""Exports one peer of an online distillation checkpoint.

The output loads with ``strict=True`` into the plain mmdet / mmseg /
mmpretrain model of that peer's original config, e.g.::

    python tools/model_converters/export_peer.py \
        work_dirs/dml/iter_80000.pth student_r18.pth --peer student \
        --config work_dirs/dml/dml_deeplabv3_r101_r18_cityscapes.py

With the training config (``--config``) the peer's plain config
(``cfg_path`` with ``cfg_options`` applied) is written beside the output,
``student_r18.py``, for the package's own ``tools/test.py``. Neither file
is written when either exists. Peers that share parameters with others
(GPD's student) are extracted by the algorithm, rebuilt from that config
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
        help='training config file: the peer\'s plain config is written '
        'beside the output (.py), and the algorithm is rebuilt from it when '
        'the peer is not stored under its own prefix (GPD\'s student)')
    args = parser.parse_args()
    try:
        print(export_peer(args.checkpoint, args.out, args.peer, args.config))
    except (CheckpointRefusedError, FileExistsError, FileNotFoundError,
            KeyError) as error:
        parser.exit(2, f'export_peer: {error.args[0]}\n')


if __name__ == '__main__':
    main()
