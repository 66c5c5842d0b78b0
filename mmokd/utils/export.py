"""Extracts one peer's weights from an online distillation checkpoint,
with the peer's plain config beside them."""
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
from mmengine.config import Config
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


#: Where a peer's network config sits in an algorithm config without
#: ``peers`` (GPD: the student is ``architecture``, the static teacher
#: ``teacher``).
ARCHITECTURE_PEERS = {'student': 'architecture', 'teacher': 'teacher'}


def peer_config_path(checkpoint_path: str) -> str:
    """The plain config written beside an exported checkpoint:
    ``student_r18.pth`` -> ``student_r18.py``.

    Args:
        checkpoint_path (str): The exported checkpoint.

    Returns:
        str: The config path.
    """
    return osp.splitext(checkpoint_path)[0] + '.py'


def plain_peer_config(model: dict, peer: str) -> Optional[Config]:
    """The plain mmdet / mmseg / mmpretrain config of one peer of an
    algorithm config: what the peer's network is built from.

    An ``mmokd.ExternalModel`` peer gives its whole config file
    (``cfg_path``) with ``cfg_options``, ``norm_type`` and the algorithm's
    ``num_classes`` applied, exactly as :func:`ExternalModel` loads it, so
    the package's own ``tools/test.py`` runs it (datasets, evaluators and
    all). An inline network config gives a config holding only that
    ``model`` (with ``custom_imports`` of mmokd when it names mmokd
    types).

    Args:
        model (dict): The training config's ``model``.
        peer (str): Peer name.

    Returns:
        Config, optional: The plain config; None when the algorithm config
        holds no config of that peer (e.g. GPD's dynamic teacher, or a
        network given as a built module).
    """
    from mmokd.models.builders.external_model import load_model_config
    from mmokd.models.builders.num_classes import with_num_classes
    if isinstance(model.get('peers'), dict):
        field, network = f'model.peers.{peer}', model['peers'].get(peer)
    else:
        key = ARCHITECTURE_PEERS.get(peer, '')
        field, network = f'model.{key}', model.get(key)
    if not isinstance(network, dict):
        return None
    network = with_num_classes(
        dict(network), model.get('num_classes'), field)
    if str(network.get('type', '')).split('.')[-1] == 'ExternalModel':
        return load_model_config(network['cfg_path'],
                                 network.get('cfg_options'),
                                 network.get('norm_type'),
                                 network.get('num_classes'))
    plain = dict(model=network)
    if 'mmokd.' in repr(network) or network.get('_scope_') == 'mmokd':
        plain['custom_imports'] = dict(
            imports=['mmokd'], allow_failed_imports=False)
    return Config(plain)


def free_export_paths(checkpoint_path: str,
                      config: Optional[Config]) -> Tuple[str, Optional[str]]:
    """The checkpoint path and, with a config, the path of the config
    beside it, checked not to exist before either is written.

    Args:
        checkpoint_path (str): Where the weights go.
        config (Config, optional): The peer's plain config, if any.

    Returns:
        tuple[str, str | None]: Both paths (None without a config).

    Raises:
        FileExistsError: If either exists (mmokd never overwrites).
    """
    config_path = None if config is None else peer_config_path(
        checkpoint_path)
    for path in (checkpoint_path, config_path):
        if path is not None and osp.exists(path):
            raise FileExistsError(
                f'{path} exists; choose another output path (mmokd never '
                'overwrites checkpoints or the peer configs written beside '
                'them).')
    return checkpoint_path, config_path


def save_peer_export(state_dict: Dict[str, Tensor],
                     out_path: str,
                     meta: Optional[dict] = None,
                     config: Optional[Config] = None) -> Tuple[str,
                                                               Optional[str]]:
    """Writes an exported peer: its checkpoint and, when its plain config
    is known, that config beside it (``.py`` for ``.pth``), nothing when
    either file exists.

    Args:
        state_dict (dict): Plain network weights.
        out_path (str): Checkpoint destination; must not exist yet.
        meta (dict, optional): Checkpoint metadata.
        config (Config, optional): The peer's plain config
            (:func:`plain_peer_config`).

    Returns:
        tuple[str, str | None]: The checkpoint and config paths.

    Raises:
        FileExistsError: If the checkpoint or the config path exists.
    """
    out_path, config_path = free_export_paths(out_path, config)
    save_peer_checkpoint(state_dict, out_path, meta)
    if config is not None:
        config.dump(config_path)
    return out_path, config_path


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
    describes and is evaluated by the mmdet / mmseg / mmpretrain test
    tools. A peer stored under ``{peer}.`` is cut out of the state dict;
    otherwise the algorithm is rebuilt from the ``config`` file (see
    :func:`rebuilt_peer_state_dict`). With the training ``config``, the
    peer's plain config (:func:`plain_peer_config`) is also written
    beside ``out_path`` (``.py`` for ``.pth``); nothing is written when
    either file exists.

    Args:
        checkpoint (str): Checkpoint written during online distillation.
        out_path (str): Destination; must not exist yet.
        peer (str): Peer to export. Defaults to ``'student'``.
        config (str, optional): Training config file.

    Returns:
        str: ``out_path``.
    """
    plain = None
    if config is not None:
        if not osp.isfile(config):
            raise FileNotFoundError(
                f'--config {config}: no such config file.')
        # Only the peer's config is read: the run's custom_imports (e.g.
        # its hooks) are not needed for it.
        plain = plain_peer_config(
            Config.fromfile(config, import_custom_modules=False).model, peer)
    free_export_paths(out_path, plain)
    ckpt = load_checkpoint_safely(checkpoint)
    state_dict = ckpt.get('state_dict', ckpt)
    if any(key.startswith(f'{peer}.') for key in state_dict):
        weights = peer_state_dict(state_dict, peer)
    else:
        weights = rebuilt_peer_state_dict(state_dict, peer, config)
    meta = dict(
        ckpt.get('meta', {}),
        exported_peer=peer,
        exported_from=osp.abspath(checkpoint))
    return save_peer_export(weights, out_path, meta, plain)[0]
