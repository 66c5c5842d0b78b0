"""Extracts one peer's weights from an online distillation checkpoint."""
import os
import os.path as osp
from typing import Dict, Optional

import torch
from torch import Tensor

from .checkpoint import load_checkpoint_safely


def peer_state_dict(state_dict: Dict[str, Tensor],
                    peer: str) -> Dict[str, Tensor]:
    """The keys of ``peer`` with its prefix removed.

    mmokd checkpoints hold every peer under ``{peer}.`` (the algorithm's
    state-dict hook removes DDP's ``.module.``).

    Args:
        state_dict (dict): The algorithm's state dict.
        peer (str): Peer name, e.g. ``'student'``.

    Returns:
        dict: The plain network's state dict.

    Raises:
        KeyError: If no key belongs to ``peer``.
    """
    prefix = f'{peer}.'
    out = {
        key[len(prefix):]: value
        for key, value in state_dict.items() if key.startswith(prefix)
    }
    if not out:
        peers = sorted({key.split('.')[0] for key in state_dict})
        raise KeyError(f'No weights of peer "{peer}" in the checkpoint; '
                       f'its top-level names are {peers}.')
    return out


def save_peer_checkpoint(state_dict: Dict[str, Tensor],
                         out_path: str,
                         meta: Optional[dict] = None) -> str:
    """Writes ``{'meta', 'state_dict'}`` without overwriting a file.

    Args:
        state_dict (dict): Plain network weights.
        out_path (str): Destination; must not exist yet.
        meta (dict, optional): Metadata such as ``dataset_meta``.

    Returns:
        str: ``out_path``.

    Raises:
        FileExistsError: If ``out_path`` exists.
    """
    if osp.exists(out_path):
        raise FileExistsError(f'{out_path} exists; choose another output '
                              'path (mmokd never overwrites checkpoints).')
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    torch.save({'meta': dict(meta or {}), 'state_dict': state_dict}, out_path)
    return out_path


def rebuilt_peer_state_dict(state_dict: Dict[str, Tensor], peer: str,
                            config: Optional[str]) -> Dict[str, Tensor]:
    """A peer's plain weights computed by the algorithm that trained it.

    For peers that are not stored under their own prefix, e.g. GPD's
    student, a view of a shared parameter store: the algorithm is built
    from the training ``config`` file, loaded (``strict=True``) and asked
    for the peer's ``deployable_state_dict``. The config text a checkpoint
    carries in its ``meta`` is never used: mmengine configs are Python, and
    nothing read from a checkpoint is executed.

    Args:
        state_dict (dict): The algorithm's state dict.
        peer (str): Peer name.
        config (str, optional): The training config file.

    Returns:
        dict: The plain network's state dict.

    Raises:
        KeyError: If no config file is given.
        FileNotFoundError: If ``config`` is not a file.
    """
    from mmengine.config import Config

    from mmokd.registry import MODELS
    if not config:
        peers = sorted({key.split('.')[0] for key in state_dict})
        raise KeyError(
            f'No weights of peer "{peer}" under "{peer}." in the checkpoint '
            f'(top-level names {peers}): the algorithm has to be rebuilt '
            'to compute them. Pass the training config file (--config); the '
            'config text stored in a checkpoint is never executed.')
    if not osp.isfile(config):
        raise FileNotFoundError(f'--config {config}: no such config file.')
    algorithm = MODELS.build(Config.fromfile(config).model)
    algorithm.load_state_dict(state_dict, strict=True)
    return algorithm.deployable_state_dict(peer)


def export_peer(checkpoint: str,
                out_path: str,
                peer: str = 'student',
                config: Optional[str] = None) -> str:
    """Exports one peer of a saved run as a plain-model checkpoint.

    The result loads with ``strict=True`` into the network its peer config
    describes and is evaluated by mmseg / mmpretrain test tooling. A peer
    stored under ``{peer}.`` is cut out of the state dict; otherwise (or
    when ``config`` is given) the algorithm is rebuilt from the ``config``
    file (see :func:`rebuilt_peer_state_dict`).

    Args:
        checkpoint (str): Checkpoint written during online distillation.
        out_path (str): Destination; must not exist yet.
        peer (str): Peer to export. Defaults to ``'student'``.
        config (str, optional): Training config file.

    Returns:
        str: ``out_path``.
    """
    ckpt = load_checkpoint_safely(checkpoint)
    state_dict = ckpt.get('state_dict', ckpt)
    stored = any(key.startswith(f'{peer}.') for key in state_dict)
    if stored and config is None:
        weights = peer_state_dict(state_dict, peer)
    else:
        weights = rebuilt_peer_state_dict(state_dict, peer, config)
    meta = dict(
        ckpt.get('meta', {}),
        exported_peer=peer,
        exported_from=osp.abspath(checkpoint))
    return save_peer_checkpoint(weights, out_path, meta)
