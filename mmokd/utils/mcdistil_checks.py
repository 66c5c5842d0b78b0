"""Checks an MC-Distil config before anything is built or written."""
import os.path as osp
from typing import Any, List, Tuple

from mmengine.config import Config

#: C-Net width of the final map when ``model.cnet.planes`` is not set.
DEFAULT_CNET_CHANNELS = 64
#: The ways ``mmokd.MCDistil`` computes its hypergradient.
HYPERGRADS = ('forward_mode', 'second_order', 'finite_difference')
MIX_AUGMENTS = ('Mixup', 'CutMix')


def _type_name(cfg: Any) -> str:
    """The unscoped type of a config dict (``'mmokd.MCDistil'`` ->
    ``'MCDistil'``), or ``''``."""
    if not isinstance(cfg, dict):
        return ''
    return str(cfg.get('type', '')).split('.')[-1]


def _mentions(cfg: Any, names: tuple) -> List[str]:
    """Every type in ``names`` used anywhere inside ``cfg``."""
    found = []
    if isinstance(cfg, dict):
        if _type_name(cfg) in names:
            found.append(_type_name(cfg))
        for value in cfg.values():
            found += _mentions(value, names)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            found += _mentions(value, names)
    return found


def _warm_starts(peers: dict) -> List[Tuple[str, str]]:
    """``(field, path)`` of every peer's ``Pretrained`` checkpoint: its
    ``init_cfg``, or an ``ExternalModel``'s ``model.init_cfg`` option."""
    found = []
    for name, peer in peers.items():
        peer = peer or {}
        options = peer.get('cfg_options') or {}
        for field, init in (
            (f'model.peers.{name}.init_cfg', peer.get('init_cfg')),
            (f'model.peers.{name}.cfg_options.model.init_cfg',
             options.get('model.init_cfg'))):
            if isinstance(init, dict) and init.get('checkpoint'):
                found.append((f'{field}.checkpoint', init['checkpoint']))
    return found


def _check_model(model: dict) -> List[str]:
    """The model's fields; returns the students."""
    peers = dict(model.get('peers') or {})
    teacher = model.get('teacher', 'teacher')
    if teacher not in peers:
        raise ValueError(f'model.teacher: "{teacher}" is not one of '
                         f'model.peers {list(peers)}.')
    frozen = model.get('frozen_peers')
    if frozen is not None and list(frozen) != [teacher]:
        raise ValueError(
            f'model.frozen_peers: {list(frozen)} contradicts model.teacher '
            f'"{teacher}"; MC-Distil freezes exactly the teacher, leave '
            'frozen_peers out.')
    students = [name for name in peers if name != teacher]
    cnet = model.get('cnet') or {}
    if cnet.get('num_students') != len(students):
        raise ValueError(
            f'model.cnet.num_students is {cnet.get("num_students")}, but '
            f'there are {len(students)} students {students} (every peer '
            f'but the teacher "{teacher}").')
    planes = cnet.get('planes')
    channels = planes[-1] if planes else DEFAULT_CNET_CHANNELS
    if cnet.get('weight_source', 'feature') == 'feature' and \
            2 * len(students) > channels:
        raise ValueError(
            f'model.cnet.num_students: {len(students)} students need '
            f'{2 * len(students)} weights, more than the {channels} '
            'channels of the C-Net\'s final map; widen model.cnet.planes or '
            'set model.cnet.weight_source="head".')
    interval = model.get('meta_interval', 20)
    if isinstance(interval, bool) or not isinstance(interval, int) or \
            interval < 1:
        raise ValueError('model.meta_interval must be an integer >= 1, got '
                         f'{interval!r}.')
    hypergrad = model.get('hypergrad')
    if hypergrad is not None and hypergrad not in HYPERGRADS:
        raise ValueError(f'model.hypergrad must be one of {list(HYPERGRADS)}'
                         f', got {hypergrad!r}.')
    for field, path in _warm_starts(peers):
        if path and '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'{field}: "{path}" does not exist; MC-Distil starts every '
                'network from its CE-trained checkpoint (configs/mcdistil/'
                'ce/*.py train them).')
    mixes = _mentions(model.get('data_preprocessor'), MIX_AUGMENTS)
    for name, peer in peers.items():
        mixes += _mentions((peer or {}).get('train_cfg'), MIX_AUGMENTS)
        mixes += _mentions((peer or {}).get('data_preprocessor'), MIX_AUGMENTS)
    if mixes:
        raise ValueError(
            f'model.data_preprocessor: {sorted(set(mixes))} mix labels, but '
            'MC-Distil\'s per-item CE (and its meta loss) needs hard labels; '
            'remove batch_augments / train_cfg.augments.')
    return students


def _check_optimizers(cfg: Config, students: List[str]) -> None:
    """One plain SGD wrapper per student, an optimizer for the C-Net and
    a scheduler dict."""
    optim = cfg.get('optim_wrapper') or {}
    for name in students:
        wrapper = optim.get(name)
        if not isinstance(wrapper, dict):
            raise ValueError(
                f'optim_wrapper.{name}: missing; MC-Distil needs one SGD '
                'optimizer per student (constructor='
                '"mmokd.PeerOptimWrapperConstructor").')
        kind = _type_name(wrapper.get('optimizer'))
        if kind != 'SGD':
            raise ValueError(
                f'optim_wrapper.{name}.optimizer: the look-ahead is an SGD '
                f'step, got "{kind}"; use type="SGD".')
        if wrapper.get('clip_grad'):
            raise ValueError(
                f'optim_wrapper.{name}.clip_grad: the look-ahead does not '
                'model clipping; remove it.')
        if wrapper.get('accumulative_counts', 1) != 1:
            raise ValueError(
                f'optim_wrapper.{name}.accumulative_counts: the look-ahead '
                'models one step per batch; set it to 1.')
    if not isinstance(optim.get('cnet'), dict):
        raise ValueError(
            'optim_wrapper.cnet: missing; the C-Net has its own optimizer, '
            'e.g. cnet=dict(optimizer=dict(type="Adam", lr=1e-3, '
            'weight_decay=1e-4)).')
    if isinstance(cfg.get('param_scheduler'), (list, tuple)):
        raise ValueError(
            'param_scheduler: a list would apply the students\' schedule to '
            'the C-Net too; give a dict with one list per optimizer, e.g. '
            'dict(<student>=[...], ..., cnet=[]).')


def _check_meta_hook(cfg: Config) -> None:
    """A ``MCDistilMetaHook`` whose dataset is not the training one."""
    hooks = [
        hook for hook in cfg.get('custom_hooks') or []
        if _type_name(hook) == 'MCDistilMetaHook'
    ]
    if not hooks:
        raise ValueError(
            'custom_hooks: MC-Distil needs dict(type="mmokd.MCDistilMetaHook",'
            ' meta_dataloader=...) with a held-out dataset.')
    meta = (hooks[0].get('meta_dataloader') or {}).get('dataset')
    train = (cfg.get('train_dataloader') or {}).get('dataset')
    if meta == train:
        raise ValueError(
            'custom_hooks.MCDistilMetaHook.meta_dataloader.dataset: it is the '
            'training dataset; hold images out, e.g. '
            'mmokd.RandomSplitDataset(part="held_out") for the meta set and '
            'part="train" for train_dataloader.')


def check_mcdistil(cfg: Config) -> None:
    """Raises, before anything is built or written, if an MC-Distil
    config cannot train as the method needs; any other config passes.

    Checks the teacher and the students against ``model.cnet``, the
    hyper-parameters, one SGD optimizer per student (no clipping, no
    accumulation) plus ``optim_wrapper.cnet`` with a dict
    ``param_scheduler``, the ``MCDistilMetaHook`` and its held-out
    dataset, that no Mixup / CutMix mixes the labels, and that every
    peer's ``init_cfg.checkpoint`` exists.

    Args:
        cfg (Config): The full training config.

    Raises:
        ValueError: Naming the field to change.
        FileNotFoundError: A warm-start checkpoint does not exist.
    """
    model = cfg.get('model') or {}
    if _type_name(model) != 'MCDistil':
        return
    students = _check_model(model)
    _check_optimizers(cfg, students)
    _check_meta_hook(cfg)
    mixes = _mentions(cfg.get('data_preprocessor'), MIX_AUGMENTS)
    if mixes:
        raise ValueError(
            f'data_preprocessor: {sorted(set(mixes))} mix labels, but '
            'MC-Distil needs hard labels; remove batch_augments.')
