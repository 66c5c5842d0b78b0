"""Time and memory measurement shared by the benchmark scripts.

Time: the variants run interleaved, round after round, on one fixed batch,
and the median of each is reported, so machine noise affects them alike.
Memory: each variant runs in its own subprocess; on CUDA the peak of
``torch.cuda.max_memory_allocated`` during its steps, on CPU the growth of
the process's peak RSS from after building to after the steps.
Operators: the ATen operators one step dispatches (forward, backward and
optimizer), without the views, which launch no kernel: on a GPU whose
step is launch-bound, time follows this count.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

Step = Callable[[dict], dict]


def benchmark_parser(description: str, variants: Sequence[str], task: str,
                     size: Tuple[int, int]) -> argparse.ArgumentParser:
    """The options every benchmark script takes.

    Args:
        description (str): The script's one-line description.
        variants (list[str]): Its variants (for the internal
            ``--memory-of`` of :func:`memory_in_subprocesses`).
        task (str): Default ``--task``, ``'seg'`` or ``'cls'``.
        size (tuple[int, int]): Default ``--size H W``.

    Returns:
        argparse.ArgumentParser: A parser the script may extend.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--task', choices=['seg', 'cls'], default=task)
    parser.add_argument(
        '--size', type=int, nargs=2, default=size, metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--memory-steps', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--memory-of', choices=variants, help=argparse.SUPPRESS)
    return parser


def sync(device: str) -> None:
    """Waits for queued CUDA work (no-op on CPU)."""
    if device == 'cuda':
        torch.cuda.synchronize()


def peak_memory_mib(step: Step, data: dict, device: str, steps: int) -> float:
    """Peak memory of ``steps`` training steps above the current use, MiB.

    Args:
        step (Callable): One training step on ``data``.
        data (dict): The batch.
        device (str): ``'cuda'`` or ``'cpu'``.
        steps (int): Steps to run.

    Returns:
        float: MiB.
    """
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for _ in range(steps):
        step(data)
    sync(device)
    if device == 'cuda':
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base


def median_times(steps: Dict[str, Step], data: dict, device: str, warmup: int,
                 iters: int) -> Dict[str, float]:
    """Median seconds per step of every variant, run interleaved.

    Args:
        steps (dict): ``{variant: step}``.
        data (dict): The batch.
        device (str): ``'cuda'`` or ``'cpu'``.
        warmup (int): Untimed rounds first.
        iters (int): Timed rounds.

    Returns:
        dict: ``{variant: seconds}``.
    """
    times: Dict[str, List[float]] = {name: [] for name in steps}
    for round_idx in range(warmup + iters):
        for name, step in steps.items():
            sync(device)
            start = time.perf_counter()
            step(data)
            sync(device)
            if round_idx >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


class _OperatorCounter(TorchDispatchMode):
    """Counts the non-view ATen operators dispatched inside the block.

    Code compiled with ``torch.compile`` runs compiled inside the block
    (``ignore_compile_internals``); the ATen operators it calls (e.g.
    matrix products) are counted here, its generated kernels by
    :func:`dispatched_operators`.
    """

    @classmethod
    def ignore_compile_internals(cls) -> bool:
        return True

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        returns = func._schema.returns
        alias = returns[0].alias_info if returns else None
        if alias is None or alias.is_write:
            self.count += 1
        return func(*args, **(kwargs or {}))


# Inductor's CPU kernels are visible to the profiler only with this set
# before they are compiled (its Triton kernels always are).
torch._inductor.config.cpp.enable_kernel_profile = True


def dispatched_operators(step: Step, data: dict) -> int:
    """Non-view ATen operators of one training step, plus the kernels
    that ``torch.compile`` (Inductor) generated and the step launched.

    Args:
        step (Callable): One training step on ``data``.
        data (dict): The batch.

    Returns:
        int: The count (each launches at least one kernel on a GPU).
    """
    with _OperatorCounter() as counter, torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        step(data)
    generated = sum(1 for event in profiler.events()
                    if 'cpp_fused' in event.name
                    or event.name.startswith('triton_'))
    return counter.count + generated


def memory_in_subprocesses(script: str, variants: Sequence[str],
                           argv: Sequence[str]) -> Dict[str, float]:
    """Runs ``script --memory-of VARIANT ARGV`` once per variant; each
    prints its peak memory (JSON) on its last line.

    Args:
        script (str): The benchmark script.
        variants (list[str]): Variant names.
        argv (list[str]): The benchmark's own arguments.

    Returns:
        dict: ``{variant: MiB}``.
    """
    memory = {}
    for name in variants:
        cmd = [sys.executable, script, '--memory-of', name] + list(argv)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        memory[name] = json.loads(out.stdout.strip().splitlines()[-1])
    return memory
