"""Time and memory measurement shared by the benchmark scripts.

Time: the variants run interleaved, round after round, on one fixed batch,
and the median of each is reported, so machine noise affects them alike.
Memory: on CUDA the peak of ``torch.cuda.max_memory_allocated`` during
each variant's first steps above what was allocated before them (one
process); on CPU, each variant in its own subprocess, the growth of the
peak RSS during the steps (reset after building where Linux allows).
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
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch.utils._python_dispatch import TorchDispatchMode

Step = Callable[[dict], dict]


def benchmark_parser(
    description: str,
    variants: Sequence[str],
    task: str,
    size: Optional[Tuple[int, int]],
    tasks: Sequence[str] = ('seg', 'cls')
) -> argparse.ArgumentParser:
    """The options every benchmark script takes.

    Args:
        description (str): The script's one-line description.
        variants (list[str]): Its variants (for the internal
            ``--memory-of`` of :func:`memory_in_subprocesses`).
        task (str): Default ``--task``, one of ``tasks``.
        size (tuple[int, int], optional): Default ``--size H W`` (``None``:
            the script sets it by task).
        tasks (list[str]): The tasks it measures. Defaults to ``('seg',
            'cls')``.

    Returns:
        argparse.ArgumentParser: A parser the script may extend.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--task', choices=list(tasks), default=task)
    parser.add_argument(
        '--size', type=int, nargs=2, default=size, metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--memory-steps', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--variants',
        nargs='+',
        choices=variants,
        default=list(variants),
        help='the variants to measure (default: all)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help="mixed precision through mmengine's AmpOptimWrapper "
        '(CUDA only)')
    parser.add_argument(
        '--json', metavar='FILE', help='also write the figures as JSON')
    parser.add_argument(
        '--tiny',
        action='store_true',
        help=f'networks {64 // TINY_WIDTH} times narrower, same depth '
        '(smoke runs; not benchmark figures)')
    parser.add_argument(
        '--memory-in-process',
        action='store_true',
        help='on the CPU, measure memory in this process (quick smoke '
        'runs: memory an earlier variant freed but the allocator kept '
        'hides part of a later one\'s peak)')
    parser.add_argument(
        '--memory-of', choices=variants, help=argparse.SUPPRESS)
    return parser


#: Base width of the networks under ``--tiny`` (ResNets have 64).
TINY_WIDTH = 8


def tiny_options(task: str, depth: int) -> dict:
    """``cfg_options`` making an mmpretrain / mmseg ResNet network of the
    benchmarks :data:`TINY_WIDTH` wide (``--tiny``), heads to match.

    Args:
        task (str): ``'cls'`` or ``'seg'`` (a DeepLabV3 / PSPNet with an
            auxiliary head on the third stage).
        depth (int): ResNet depth (bottleneck blocks from 50).

    Returns:
        dict: The options.
    """
    out = TINY_WIDTH * 8 * (4 if depth >= 50 else 1)
    options = {
        'model.backbone.base_channels': TINY_WIDTH,
        'model.backbone.stem_channels': TINY_WIDTH
    }
    if task == 'cls':
        options['model.head.in_channels'] = out
    else:
        options['model.decode_head.in_channels'] = out
        options['model.auxiliary_head.in_channels'] = out // 2
    return options


def optim_wrapper(optimizer: torch.optim.Optimizer, amp: bool,
                  **kwargs) -> OptimWrapper:
    """The benchmarks' optimizer wrapper: mmengine's ``AmpOptimWrapper``
    (dynamic loss scaling, as ``tools/train.py --amp``) or ``OptimWrapper``.

    Args:
        optimizer (Optimizer): The optimizer.
        amp (bool): Whether to train in mixed precision.
        **kwargs: Further wrapper arguments (e.g. ``clip_grad``).

    Returns:
        OptimWrapper: The wrapper.
    """
    if not amp:
        return OptimWrapper(optimizer, **kwargs)
    if not torch.cuda.is_available():
        raise SystemExit('--amp needs CUDA: mmengine\'s AmpOptimWrapper '
                         'does not train on the CPU.')
    return AmpOptimWrapper(optimizer=optimizer, loss_scale='dynamic',
                           **kwargs)


def memory_of_all(script: str, steps: Dict[str, Step], data: dict,
                  args: argparse.Namespace) -> Dict[str, float]:
    """Peak memory of every variant: in this process on CUDA (the peak of
    allocated memory above what was allocated before each variant's steps
    is exact there) or with ``--memory-in-process``, otherwise in one
    subprocess per variant (memory freed by an earlier variant and kept by
    the allocator would hide part of a later one's peak RSS).

    Args:
        script (str): The benchmark script (for the subprocesses).
        steps (dict): ``{variant: step}`` built in this process.
        data (dict): The batch.
        args (Namespace): The parsed options.

    Returns:
        dict: ``{variant: MiB}``.
    """
    if args.device == 'cuda' or args.memory_in_process:
        return {
            name: peak_memory_mib(step, data, args.device, args.memory_steps)
            for name, step in steps.items()
        }
    return memory_in_subprocesses(script, list(steps), sys.argv[1:])


def sync(device: str) -> None:
    """Waits for queued CUDA work (no-op on CPU)."""
    if device == 'cuda':
        torch.cuda.synchronize()


def _status_mib(field: str) -> float:
    """A ``/proc/self/status`` field (``VmRSS``, ``VmHWM``) in MiB."""
    with open('/proc/self/status') as file:
        for line in file:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def _reset_peak_rss() -> bool:
    """Resets the process's peak RSS (``VmHWM``; Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as file:
            file.write('5')
        return True
    except OSError:
        return False


def peak_memory_mib(step: Step, data: dict, device: str, steps: int) -> float:
    """Peak memory of ``steps`` training steps above the current use, MiB.

    On CUDA the peak of allocated memory; on the CPU the peak RSS, reset
    before the steps where Linux allows it (``/proc/self/clear_refs``),
    else the process's lifetime peak (``ru_maxrss``), which an earlier
    peak, e.g. while importing, can hide.

    Args:
        step (Callable): One training step on ``data``.
        data (dict): The batch.
        device (str): ``'cuda'`` or ``'cpu'``.
        steps (int): Steps to run.

    Returns:
        float: MiB.
    """
    resettable = False
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    elif _reset_peak_rss():
        resettable, base = True, _status_mib('VmRSS')
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for _ in range(steps):
        step(data)
    sync(device)
    if device == 'cuda':
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    if resettable:
        return _status_mib('VmHWM') - base
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


def _compiled_graphs() -> int:
    """How many graphs ``torch.compile`` has compiled in this process."""
    from torch._dynamo.utils import counters
    return counters['stats']['unique_graphs']


def dispatched_operators(step: Step, data: dict) -> int:
    """Non-view ATen operators of one training step, plus the kernels
    that ``torch.compile`` (Inductor) generated and the step launched.

    Args:
        step (Callable): One training step on ``data``.
        data (dict): The batch.

    Returns:
        int: The count (each launches at least one kernel on a GPU).
    """
    if not _compiled_graphs():
        # Nothing compiled, so no generated kernel: the profiler, which
        # costs several times the count itself, is not needed.
        with _OperatorCounter() as counter:
            step(data)
        if not _compiled_graphs():
            return counter.count
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


def ratio(value: float, reference: float) -> str:
    """``value / reference`` with three decimals, ``'n/a'`` for a zero
    reference (e.g. no RSS growth measured at tiny sizes)."""
    return f'{value / reference:.3f}' if reference > 0 else 'n/a'


def write_json(args: argparse.Namespace,
               script: str,
               seconds: Dict[str, float],
               memory: Dict[str, float],
               operators: Optional[Dict[str, int]] = None,
               notes: Optional[Dict[str, str]] = None,
               **extra) -> None:
    """Writes a benchmark's figures to ``args.json``.

    Args:
        args (Namespace): The parsed options (``task``, ``size``, ...).
        script (str): Which benchmark (``'online_kd'``, ``'gpd'``).
        seconds (dict): ``{variant: median s/iter}``.
        memory (dict): ``{variant: peak MiB}``.
        operators (dict, optional): ``{variant: dispatched operators}``.
        notes (dict, optional): ``{variant: why it was not measured}``.
        **extra: Further JSON-serialisable fields.
    """
    variants = {
        name: dict(
            seconds=seconds[name],
            memory_mib=memory[name],
            operators=(operators or {}).get(name))
        for name in seconds
    }
    record = dict(
        script=script,
        task=args.task,
        size=list(args.size),
        batch=args.batch,
        device=args.device,
        amp=args.amp,
        iters=args.iters,
        variants=variants,
        notes=notes or {},
        **extra)
    with open(args.json, 'w') as file:
        json.dump(record, file, indent=1)
