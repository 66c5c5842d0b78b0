"""Tests peers of an online distillation checkpoint."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import mmokd  # noqa: F401  (compatibility fixes, registration)
from mmokd.utils import (check_dataset_folders, needs_cpu_distributed,
                         setup_cpu_distributed, shutdown_distributed)
from mmokd.utils.launcher_watch import exit_with_launcher


def parse_args() -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description='Test with mmokd')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and results go')
    parser.add_argument(
        '--peers',
        nargs='+',
        help='peers to test (default: test_cfg.test_peers, the student)')
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


def main() -> None:
    """Builds the runner and tests."""
    exit_with_launcher()
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs',
        osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.peers:
        cfg.test_cfg = dict(
            type='mmokd.OnlineDistillTestLoop', test_peers=args.peers)
    check_dataset_folders(cfg)
    if needs_cpu_distributed(args.launcher):
        setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.test()
    shutdown_distributed()


if __name__ == '__main__':
    main()
