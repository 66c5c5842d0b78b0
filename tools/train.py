"""Trains an online distillation config (or any OpenMMLab config)."""
import argparse
import faulthandler
import logging

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner, find_latest_checkpoint

import mmokd  # noqa: F401  (compatibility fixes, registration)
from mmokd.utils import (check_dataset_folders, check_detection,
                         check_mcdistil, check_views, needs_cpu_distributed,
                         setup_cpu_distributed, shutdown_distributed)
from mmokd.utils.cli import load_config, parse_runner_args
from mmokd.utils.launcher_watch import exit_with_launcher
from mmokd.utils.work_dir_lock import hold_work_dir


def parse_args() -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description='Train with mmokd')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or, without a value, from '
        'the latest checkpoint in the work_dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision for every optimizer (GPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rates to the actual total batch size')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not validate during training')
    return parse_runner_args(parser)


def enable_amp(cfg: Config) -> None:
    """Turns every optimizer wrapper (one per peer, or the only one) into
    an ``AmpOptimWrapper`` with dynamic loss scaling."""
    optim = cfg.optim_wrapper
    if 'constructor' in optim and 'optimizer' not in optim:
        wrappers = [
            value for key, value in optim.items() if isinstance(value, dict)
        ]
    else:
        wrappers = [optim]
    for wrapper in wrappers:
        if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
            continue
        wrapper['type'] = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')


def build_config(args: argparse.Namespace) -> Config:
    """Loads the config and applies the command-line options."""
    cfg = load_config(args)
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    return cfg


def warn_if_nothing_to_resume(work_dir: str) -> None:
    """Warns that ``--resume`` will train from scratch.

    ``--resume`` without a value resumes the work_dir's latest checkpoint;
    mmengine starts from scratch without a word when there is none.

    Args:
        work_dir (str): The run's work_dir.
    """
    if find_latest_checkpoint(work_dir) is None:
        print_log(
            f'--resume: nothing to resume in {work_dir} (no '
            'last_checkpoint file there); training starts from scratch.',
            logger='current',
            level=logging.WARNING)


def add_label_check(cfg: Config) -> None:
    """Adds ``mmokd.LabelCheckHook`` (a batch with an invalid label stops
    training, naming the sample's file) unless the config has it."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any('LabelCheckHook' in str(hook.get('type')) for hook in hooks):
        hooks.append(dict(type='mmokd.LabelCheckHook'))
    cfg.custom_hooks = hooks


def main() -> None:
    """Builds the runner and trains."""
    faulthandler.enable()  # a native crash prints the Python stack
    exit_with_launcher()
    args = parse_args()
    cfg = build_config(args)
    check_dataset_folders(cfg)
    check_views(cfg)
    check_mcdistil(cfg)
    check_detection(cfg)
    add_label_check(cfg)
    hold_work_dir(cfg.work_dir, args.launcher)
    if args.resume == 'auto':
        warn_if_nothing_to_resume(cfg.work_dir)
    if needs_cpu_distributed(args.launcher):
        setup_cpu_distributed(cfg)
    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else RUNNERS.build(cfg))
    runner.train()
    del runner  # its DDP wrapper holds the process group
    shutdown_distributed()


if __name__ == '__main__':
    main()
