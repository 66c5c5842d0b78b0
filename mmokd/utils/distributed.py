"""Multi-process training on machines without a GPU."""
import gc
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> None:
    """Prepares a ``--launcher pytorch`` run on CPU (gloo backend).

    mmengine's ``init_dist`` always calls ``torch.cuda.set_device``, and its
    DDP wrappers default to ``device_ids=[LOCAL_RANK]``; both fail without a
    GPU. This initialises the gloo process group itself (mmengine then
    skips its own initialisation) and sets ``device_ids=None``.

    Args:
        cfg (Config): The config; ``env_cfg`` and ``model_wrapper_cfg`` are
            updated in place.
    """
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def needs_cpu_distributed(launcher: str) -> bool:
    """Whether a multi-process launch has to run on CPU."""
    return launcher != 'none' and not torch.cuda.is_available()


def shutdown_distributed() -> None:
    """Waits for every rank, then destroys the process group.

    Without it, a gloo rank that finishes first can abort at interpreter
    exit ("terminate called without an active exception") while rank 0
    is still writing checkpoints: the process group's native threads are
    then torn down during interpreter finalization. Call it after the
    last reference to the runner is gone; whatever still holds the group
    (the DDP wrapper's reducer, pending work) is collected here, while
    the interpreter is alive.
    """
    if torch_dist.is_initialized():
        gc.collect()
        torch_dist.barrier()
        torch_dist.destroy_process_group()
        gc.collect()
