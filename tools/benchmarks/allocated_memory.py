"""Peak of the tensor memory a step allocates: on CUDA
``torch.cuda.max_memory_allocated()`` minus what was allocated before the
step; on the CPU its analogue from the profiler's memory events.

The peak RSS of a process counts what the allocator keeps and pages that
were touched once; the profiler records every tensor allocation and free
(``profile_memory=True``), so the running sum of their sizes is the bytes
of live tensors, and its maximum over the step is the step's peak above
the tensors alive before it.
"""
from typing import Callable

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile


def step_peak_mib(step: Callable[[dict], object], data: dict,
                  device: str = 'cpu') -> float:
    """Peak of live tensor bytes during one call of ``step``, above
    those alive before it, in MiB.

    Args:
        step (Callable): One training step on ``data``.
        data (dict): The batch.
        device (str): ``'cpu'`` or ``'cuda'``. Defaults to ``'cpu'``.

    Returns:
        float: MiB.
    """
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(data)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    with profile(
            activities=[ProfilerActivity.CPU],
            profile_memory=True) as prof:
        step(data)
    events = [(event.start_ns(), event.nbytes())
              for event in prof.profiler.kineto_results.events()
              if event.name() == '[memory]'
              and event.device_type() == DeviceType.CPU]
    live = peak = 0
    # sorted() is stable: events of the same nanosecond keep their order.
    for _, nbytes in sorted(events, key=lambda event: event[0]):
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20
