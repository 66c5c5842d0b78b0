"""Command-line pieces shared by ``tools/train.py`` and ``tools/test.py``:
the launcher options and loading the config they name."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Adds the options of every runner tool and parses the command line.

    The options are ``--cfg-options`` (config overrides, applied last),
    ``--launcher`` and ``--local_rank`` / ``--local-rank`` (torch >= 2
    launchers pass the latter, older ones the former), which is exported
    as ``LOCAL_RANK`` unless that is already set.

    Args:
        parser (argparse.ArgumentParser): The tool's parser with its own
            arguments; ``config`` and ``--work-dir`` among them.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, xxx=yyy (applied last)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(args: argparse.Namespace) -> Config:
    """Loads ``args.config`` with the options of :func:`parse_runner_args`.

    Sets the launcher, merges ``--cfg-options``, then sets the work_dir:
    ``--work-dir``, else the config's, else
    ``./work_dirs/<config file name>``.

    Args:
        args (argparse.Namespace): ``config``, ``work_dir``, ``launcher``
            and ``cfg_options``.

    Returns:
        Config: The config.
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg
