"""Checks a detection config before training starts, naming the field to
fix (``tools/train.py``; the algorithms repeat the model checks when they
are built)."""
import os.path as osp
from typing import Any, Dict

from mmengine.config import Config

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')


def _type_name(cfg: Any) -> str:
    """The unscoped ``type`` of a config dict ('' when it has none)."""
    kind = cfg.get('type', '') if isinstance(cfg, dict) else ''
    return kind.split('.')[-1] if isinstance(kind, str) else ''


def _check_annotations(cfg: Config) -> None:
    """Raises if a COCO dataset or metric names no existing annotation
    file."""
    for name in DATALOADERS:
        dataset = (cfg.get(name) or {}).get('dataset') or {}
        if _type_name(dataset) != 'CocoDataset':
            continue
        ann_file = dataset.get('ann_file')
        path = osp.join(dataset.get('data_root') or '', ann_file or '')
        if not ann_file or not osp.isfile(path):
            raise FileNotFoundError(
                f'{name}.dataset.ann_file: "{path}" is not a file. COCO '
                'datasets read their boxes from it; point it at the '
                'split\'s instances_*.json (tools/dataset_converters/'
                'make_tiny_datasets.py coco writes a tiny set).')
    for name in EVALUATORS:
        for metric in (lambda m: m if isinstance(m, list) else [m])(
                cfg.get(name) or []):
            ann_file = metric.get('ann_file') if isinstance(metric,
                                                            dict) else None
            if _type_name(metric) == 'CocoMetric' and ann_file and \
                    not osp.isfile(ann_file):
                raise FileNotFoundError(
                    f'{name}.ann_file: "{ann_file}" is not a file; point it '
                    'at the evaluated split\'s instances_*.json (it is not '
                    'joined with data_root).')


def _method_needs(model: Dict[str, Any]) -> Dict[str, bool]:
    """Which matching an algorithm's terms need: logit terms (DML, KDCL,
    SwitOKD) and terms that reuse the heads' targets (KDCL, SwitOKD,
    ADM)."""
    from mmokd.models.algorithms import DML, KDCL
    from mmokd.registry import MODELS
    cls = MODELS.get(_type_name(model))
    distiller = _type_name(model.get('distiller') or {})
    logit_terms = isinstance(cls, type) and issubclass(cls, (DML, KDCL))
    target_terms = bool(getattr(cls, 'uses_head_targets', False)) or (
        isinstance(cls, type) and issubclass(cls, KDCL)) or \
        distiller in ('ADMDistiller', 'DetADMDistiller')
    return dict(logit_terms=logit_terms, target_terms=target_terms)


def check_detection(cfg: Config) -> None:
    """Refuses a detection config that cannot train, before the runner
    exists.

    Checks the COCO annotation files of the dataloaders and evaluators,
    refuses GPD with mmdet networks, and runs the peers' matching checks
    (:func:`~mmokd.models.tasks.det_matching.check_det_peers`), KDCL's
    detection settings and ADM's channel counts. Configs without mmdet
    networks are not touched.

    Args:
        cfg (Config): The full training config.

    Raises:
        FileNotFoundError: A missing annotation file.
        ValueError: Settings the detection methods refuse, naming the
            field.
    """
    # Imported here: mmokd.models itself imports from mmokd.utils.
    from mmokd.models.tasks.det_matching import (check_det_peer_configs,
                                                 declares_mmdet,
                                                 refuse_gpd_detectors)
    model = cfg.get('model') or {}
    networks = dict(model.get('peers') or {})
    for key in ('architecture', 'teacher'):
        if isinstance(model.get(key), dict):
            networks[key] = model[key]
    if not any(declares_mmdet(net) for net in networks.values()):
        return
    _check_annotations(cfg)
    if _type_name(model) == 'GPD':
        refuse_gpd_detectors({
            f'model.{key}': model.get(key)
            for key in ('architecture', 'teacher')
        })
    if _type_name(model) == 'KDCL':
        from mmokd.models.algorithms import KDCL
        KDCL.check_detection(networks,
                             model.get('ensemble_strategy', 'minlogit'),
                             dict(model))
        return
    check_det_peer_configs(networks, model.get('student', 'student'),
                           model.get('num_classes'), **_method_needs(model))
    _check_adm_channels(model, networks)


def _check_adm_channels(model: Dict[str, Any], networks: Dict[str,
                                                              Any]) -> None:
    """Raises if ``DetADMDistiller.channels`` are not the FPNs'
    ``out_channels`` of the peers' configs."""
    distiller = model.get('distiller') or {}
    if _type_name(distiller) != 'DetADMDistiller':
        return
    from mmokd.models.tasks.det_matching import peer_model_config
    neck = distiller.get('neck', 'neck')
    for peer, count in (distiller.get('channels') or {}).items():
        if peer not in networks:
            continue
        config = peer_model_config(networks[peer], model.get('num_classes'))
        actual = ((config or {}).get(neck) or {}).get('out_channels')
        if actual is not None and actual != count:
            raise ValueError(
                f'model.distiller.channels.{peer}: {count}, but the FPN '
                f'"{neck}" of "{peer}" has out_channels={actual}; set it to '
                f'{actual}.')
