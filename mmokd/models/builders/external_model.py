"""Builds a network from an mmseg / mmpretrain (or local) config file."""
import copy
import importlib
import os.path as osp
from typing import Any, Optional

from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope
from mmengine.utils import get_installed_path
from torch import nn

from mmokd.registry import MODELS
from .num_classes import with_num_classes


def _replace_norm_type(cfg: Any, norm_type: str) -> None:
    """Sets ``type`` of every ``norm_cfg`` dict inside ``cfg`` in place."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key == 'norm_cfg' and isinstance(value, dict):
                value['type'] = norm_type
            else:
                _replace_norm_type(value, norm_type)
    elif isinstance(cfg, (list, tuple)):
        for item in cfg:
            _replace_norm_type(item, norm_type)


def package_config_file(cfg_path: str) -> str:
    """The file of a package config such as ``'mmseg::dir/name.py'``.

    It is the file ``mmengine.hub.get_config`` loads,
    ``<package>/.mim/configs/dir/name.py``, found without parsing every
    metafile of the package (seconds per call) and without installing a
    missing package.

    Args:
        cfg_path (str): ``'<package>::<path under its configs/>'``.

    Returns:
        str: The absolute path of the config file.
    """
    package, relative = cfg_path.split('::', 1)
    try:
        root = get_installed_path(package)
    except Exception as error:
        raise FileNotFoundError(
            f'ExternalModel.cfg_path: "{cfg_path}" names the package '
            f'"{package}", which is not installed ({error}).') from error
    path = osp.join(root, '.mim', 'configs', relative)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'ExternalModel.cfg_path: "{cfg_path}" is not a config of the '
            f'installed {package} (no file {path}). Fix the path in the '
            "peer's config.")
    return path


def load_model_config(cfg_path: str,
                      cfg_options: Optional[dict] = None,
                      norm_type: Optional[str] = None,
                      num_classes: Optional[int] = None) -> Config:
    """Loads the full config whose ``model`` an :func:`ExternalModel` builds.

    Args:
        cfg_path (str): ``'mmseg::path/in/package/configs.py'``,
            ``'mmpretrain::...'`` or a path to a local config file.
        cfg_options (dict, optional): Overrides merged into the loaded config
            with ``Config.merge_from_dict`` (keys relative to its root, e.g.
            ``{'model.pretrained': None}``).
        norm_type (str, optional): If given, the ``type`` of every
            ``norm_cfg`` in the model, e.g. ``'BN'`` to replace ``SyncBN``
            on CPU.
        num_classes (int, optional): If given, the class count of the
            model's heads and preprocessor (:func:`with_num_classes`).

    Returns:
        Config: The loaded config; ``cfg.model`` carries the file's
        top-level ``data_preprocessor`` when the model has none.
    """
    if '::' in cfg_path:
        cfg = Config.fromfile(package_config_file(cfg_path))
    elif osp.isfile(cfg_path):
        cfg = Config.fromfile(cfg_path)
    else:
        raise FileNotFoundError(
            f'ExternalModel.cfg_path: "{cfg_path}" is neither a package '
            'config ("mmseg::..." / "mmpretrain::...") nor an existing '
            'file. Fix the path in the peer\'s config.')
    if cfg_options:
        # A copy: merging pops '_delete_' keys, and the peer's config is
        # read again (matching checks, export).
        cfg.merge_from_dict(copy.deepcopy(dict(cfg_options)))
    if 'data_preprocessor' in cfg and 'data_preprocessor' not in cfg.model:
        cfg.model.data_preprocessor = cfg.data_preprocessor
    if norm_type is not None:
        _replace_norm_type(cfg.model, norm_type)
    cfg.model = with_num_classes(cfg.model, num_classes,
                                 f'ExternalModel({cfg_path}).model')
    return cfg


def _scope_of(cfg_path: str, cfg: Config) -> str:
    """The registry scope a config's model types belong to."""
    if '::' in cfg_path:
        return cfg_path.split('::')[0]
    return cfg.get('default_scope', 'mmengine')


@MODELS.register_module()
def ExternalModel(cfg_path: str,
                  cfg_options: Optional[dict] = None,
                  norm_type: Optional[str] = None,
                  num_classes: Optional[int] = None) -> nn.Module:
    """Builds the ``model`` of another OpenMMLab config as one peer.

    The network is exactly the one the downstream config describes
    (mmseg ``EncoderDecoder``, mmpretrain ``ImageClassifier``, ...), built
    in that package's registry scope, so its checkpoint keys stay those of
    the plain model and an exported peer loads with ``strict=True``.

    Example:
        >>> student = dict(
        ...     type='mmokd.ExternalModel',
        ...     cfg_path='mmseg::deeplabv3/'
        ...     'deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        ...     cfg_options={'model.pretrained': None},
        ...     norm_type='BN')

    Args:
        cfg_path (str): See :func:`load_model_config`.
        cfg_options (dict, optional): See :func:`load_model_config`.
        norm_type (str, optional): See :func:`load_model_config`.
        num_classes (int, optional): See :func:`load_model_config`.

    Returns:
        nn.Module: The built network.
    """
    cfg = load_model_config(cfg_path, cfg_options, norm_type, num_classes)
    scope = _scope_of(cfg_path, cfg)
    if scope != 'mmengine':
        importlib.import_module(f'{scope}.utils').register_all_modules(False)
    model_cfg = ConfigDict(cfg.model)
    with DefaultScope.overwrite_default_scope(scope):
        return MMENGINE_MODELS.build(model_cfg)
