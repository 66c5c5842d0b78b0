"""Extracts one peer's weights from an online distillation checkpoint."""
import os
import os.path as osp
from typing import Dict, Optional

import torch
from torch import Tensor


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


def load_checkpoint_safely(path: str) -> dict:
    """Loads an mmengine checkpoint with ``weights_only=True``.

    The few non-tensor classes mmengine stores are allow-listed by
    :mod:`mmokd.compat`; anything else is refused.

    Args:
        path (str): Checkpoint file.

    Returns:
        dict: The checkpoint.
    """
    from mmokd.compat import checkpoint_safe_globals
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        return torch.load(path, map_location='cpu', weights_only=True)


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


def export_peer(checkpoint: str, out_path: str, peer: str = 'student') -> str:
    """Exports one peer of a saved run as a plain-model checkpoint.

    The result loads with ``strict=True`` into the network its peer config
    describes and is evaluated by mmseg / mmpretrain test tooling.

    Args:
        checkpoint (str): Checkpoint written during online distillation.
        out_path (str): Destination; must not exist yet.
        peer (str): Peer to export. Defaults to ``'student'``.

    Returns:
        str: ``out_path``.
    """
    ckpt = load_checkpoint_safely(checkpoint)
    state_dict = ckpt.get('state_dict', ckpt)
    meta = dict(
        ckpt.get('meta', {}),
        exported_peer=peer,
        exported_from=osp.abspath(checkpoint))
    return save_peer_checkpoint(
        peer_state_dict(state_dict, peer), out_path, meta)
