"""Tests peers of an online distillation checkpoint."""
import argparse
import faulthandler

from mmengine.runner import Runner

import mmokd  # noqa: F401  (compatibility fixes, registration)
from mmokd.utils import (check_dataset_folders, needs_cpu_distributed,
                         setup_cpu_distributed, shutdown_distributed)
from mmokd.utils.cli import load_config, parse_runner_args
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
    return parse_runner_args(parser)


def main() -> None:
    """Builds the runner and tests."""
    faulthandler.enable()  # a native crash prints the Python stack
    exit_with_launcher()
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.peers:
        cfg.test_cfg = dict(
            type='mmokd.OnlineDistillTestLoop', test_peers=args.peers)
    check_dataset_folders(cfg)
    if needs_cpu_distributed(args.launcher):
        setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.test()
    del runner  # its DDP wrapper holds the process group
    shutdown_distributed()


if __name__ == '__main__':
    main()
