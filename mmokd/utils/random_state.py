"""The random state of one process: Python's, numpy's, torch's (CPU and
CUDA), in a form that ``torch.load(weights_only=True)`` reads."""
import random

import numpy as np
import torch


def get_random_state() -> dict:
    """Returns this process's random state.

    Only tensors, numbers, strings and tuples are used, so a checkpoint
    holding it loads with ``weights_only=True`` and no extra allow-list.

    Returns:
        dict: ``python`` (``random.getstate()`` with the Mersenne Twister
        words as an int64 tensor), ``numpy`` (numpy's global generator,
        which OpenMMLab transforms draw from: ``keys`` as an int64 tensor,
        ``pos``, ``has_gauss``, ``cached_gaussian``), ``torch`` (the CPU
        generator) and, once CUDA is initialised, ``cuda`` (the current
        device's generator).
    """
    version, words, gauss = random.getstate()
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = dict(
        python=(version, torch.tensor(words, dtype=torch.int64), gauss),
        numpy=dict(
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_random_state(state: dict) -> None:
    """Restores a state returned by :func:`get_random_state`.

    Args:
        state (dict): The state; its tensors may be on any device (a
            resumed checkpoint is mapped to the training device). The CUDA
            generator is restored when the state has one and CUDA is
            available.
    """
    version, words, gauss = state['python']
    random.setstate((version, tuple(words.tolist()), gauss))
    numpy = state['numpy']
    np.random.set_state(
        ('MT19937', numpy['keys'].cpu().numpy().astype(np.uint32),
         numpy['pos'], numpy['has_gauss'], numpy['cached_gaussian']))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'].cpu())
