"""Online Knowledge Distillation via Collaborative Learning (Guo et al.,
CVPR 2020)."""
from typing import Dict, Iterable, List, Optional, Tuple, Union

import torch
from torch import Tensor

from mmokd.registry import MODELS
from ..losses.functional import (DET_KDCL_STRATEGIES, KDCL_STRATEGIES,
                                 det_kdcl_ensemble, kdcl_ensemble,
                                 kdcl_error_gram)
from ..tasks import DetTask
from ..tasks.det_task import DenseHeadRecord
from ..tasks.det_matching import (check_det_peer_configs, dense_head_key,
                                  peer_model_config)
from ..utils import (check_integer, check_nonnegative, check_positive,
                     unwrap)
from .dml import LOGITS, distiller_recording_logits
from .online_distill import OnlineDistill


def _dml_loss_settings(dml_loss: Optional[dict]) -> dict:
    """``tau``, ``loss_weight`` and ``ignore_index`` of a ``DMLLoss`` (or
    ``DetDMLLoss``) config (``model.dml_loss`` inherited from a DML
    config)."""
    if dml_loss is None:
        return {}
    settings = dict(dml_loss)
    loss_type = settings.pop('type', 'DMLLoss')
    settings.pop('peer_reduction', None)  # KDCL has one target
    unknown = set(settings) - {'tau', 'loss_weight', 'ignore_index'}
    if loss_type.split('.')[-1] not in ('DMLLoss', 'DetDMLLoss') or unknown:
        raise ValueError(
            'model.dml_loss: KDCL reads only tau, loss_weight and '
            f'ignore_index of a DMLLoss config, got {dml_loss}; set '
            'model.tau / model.loss_weight instead.')
    return settings


def _is_detection(dml_loss: Optional[dict]) -> bool:
    """Whether the inherited DML config distills detectors
    (``mmokd.DetDMLLoss``)."""
    return dml_loss is not None and str(dml_loss.get(
        'type', '')).split('.')[-1] == 'DetDMLLoss'


@MODELS.register_module()
class KDCL(OnlineDistill):
    """KDCL: every network learns from one detached ensemble of all.

    Guo, Wang, Wu, Yu, Liang, Hu, Luo, "Online Knowledge Distillation via
    Collaborative Learning", CVPR 2020. For each of the ``M >= 2``
    networks::

        L_i = L_task(z_i, y) + lambda * tau^2 * KL(p_t^tau || p_i^tau),
        z_t = Ensemble(z_1, ..., z_M) detached,

    every network stepped by its own optimizer. ``z_t`` is computed once
    per step from the recorded logits (the output of the module named in
    ``logits``) and routed by the distiller to every network's
    ``loss_kdcl`` (:class:`KDCLLoss`), so no gradient crosses networks.
    ``ensemble_strategy`` picks the ensemble (:func:`kdcl_ensemble`):
    ``'naive'``, ``'linear'``, ``'minlogit'`` (default, parameter-free),
    ``'general'`` or ``'mean'``.

    ``'general'`` uses the Perrone-Cooper weights in the buffer
    ``general_weights`` (saved in checkpoints, restored on resume),
    estimated on a held-out split by ``mmokd.KDCLGeneralWeightsHook``
    (once per epoch); until the first estimate they are uniform (``1/M``,
    the ``'mean'`` ensemble).

    Each network sees its own augmentation of the batch when the data
    preprocessor returns one view per network (KDCL's "invariant
    collaborative learning"): ``mmpretrain.MultiView`` in the pipeline with
    ``mmokd.MultiViewClsDataPreprocessor`` (classification) or
    ``mmokd.MultiViewPhotoMetricDistortion`` with
    ``mmokd.MultiViewSegDataPreProcessor`` (segmentation); view ``i`` goes
    to the ``i``-th peer of ``peers``. For segmentation the KL runs per
    pixel, ignoring ``ignore_index``.

    ``tau`` and ``lambda`` may also come from a DML config's ``dml_loss``
    (``dict(type='DMLLoss', tau=..., loss_weight=...)``), so a KDCL config
    inherits a DML one and changes only ``type`` (and the views); ``tau``
    and ``loss_weight`` given to KDCL itself take precedence.

    Detection (a DML config with ``mmokd.DetDMLLoss``): one shared view;
    ``z_t`` per prior and class of the dense heads (``'minlogit'``,
    ``'naive'``, ``'linear'`` or ``'mean'``, :func:`det_kdcl_ensemble`;
    sigmoid heads with binary cross-entropy, softmax heads over ``C + 1``
    classes) with the student head's own targets as ``y``, and each
    network's term is ``DetDMLLoss`` towards it over the assigned priors,
    normalised by the ensemble's soft foreground count (sigmoid) or their
    number (softmax).

    Example:
        >>> model = dict(
        ...     type='mmokd.KDCL',
        ...     peers=dict(student=dict(...), teacher=dict(...)),
        ...     logits='head.fc',
        ...     ensemble_strategy='minlogit', tau=1.0, loss_weight=1.0)
        >>> # or, over a DML config (its logits and dml_loss are used):
        >>> model = dict(type='KDCL', ensemble_strategy='minlogit')

    Args:
        peers (dict): See :class:`OnlineDistill`; two or more.
        logits (str | dict): Module whose output is a peer's logits, one
            name for all peers or ``{peer: name}``.
        ensemble_strategy (str): See above. Defaults to ``'minlogit'``.
        tau (float, optional): Temperature. Defaults to ``dml_loss``'s,
            else 1.0 (ADM paper's re-runs).
        loss_weight (float, optional): ``lambda``. Defaults to
            ``dml_loss``'s, else 1.0.
        ignore_index (int, optional): Ignored label of segmentation maps.
            Defaults to ``dml_loss``'s, else 255.
        dml_loss (dict, optional): A DML config's ``DMLLoss`` config, read
            for ``tau``, ``loss_weight`` and ``ignore_index``.
        distiller (dict, optional): Extra recorders and terms (e.g. ADM's);
            KDCL's are merged in. Defaults to an empty ``OnlineDistiller``.
        **kwargs: Other arguments of :class:`OnlineDistill`.
    """

    step_data_names = ('kdcl_ensemble', )

    def __init__(self,
                 peers: Dict[str, dict],
                 logits: Union[str, Dict[str, str]],
                 ensemble_strategy: str = 'minlogit',
                 tau: Optional[float] = None,
                 loss_weight: Optional[float] = None,
                 ignore_index: Optional[int] = None,
                 dml_loss: Optional[dict] = None,
                 distiller: Optional[dict] = None,
                 **kwargs) -> None:
        if ensemble_strategy not in KDCL_STRATEGIES:
            raise ValueError(
                f'model.ensemble_strategy: must be one of '
                f'{list(KDCL_STRATEGIES)}, got "{ensemble_strategy}".')
        inherited = _dml_loss_settings(dml_loss)
        detection = _is_detection(dml_loss)
        if detection:
            self.check_detection(peers, ensemble_strategy, kwargs)
        defaults = dict(tau=1.0, loss_weight=1.0, ignore_index=255)
        given = dict(tau=tau, loss_weight=loss_weight,
                     ignore_index=ignore_index)
        settings, fields = {}, {}
        for key, value in given.items():
            if value is not None:
                settings[key], fields[key] = value, f'model.{key}'
            else:
                settings[key] = inherited.get(key, defaults[key])
                fields[key] = f'model.dml_loss.{key}'
        tau = check_positive(settings['tau'], fields['tau'])
        loss_weight = check_nonnegative(settings['loss_weight'],
                                        fields['loss_weight'])
        ignore_index = check_integer(settings['ignore_index'],
                                     fields['ignore_index'])
        names = list(peers)
        frozen = set(kwargs.get('frozen_peers', ()))
        distiller, losses, mappings = distiller_recording_logits(
            distiller, logits, names)
        for name in (n for n in names if n not in frozen):
            mapping = dict(
                preds_S=dict(peer=name, recorder=LOGITS),
                preds_T=dict(data='kdcl_ensemble'))
            if detection:
                loss = dict(
                    type='mmokd.DetDMLLoss', tau=tau, loss_weight=loss_weight)
            else:
                loss = dict(
                    type='mmokd.KDCLLoss',
                    tau=tau,
                    loss_weight=loss_weight,
                    strategy=ensemble_strategy,
                    ignore_index=ignore_index)
                mapping['gt'] = dict(data='gt')
            losses.setdefault(name, {})['loss_kdcl'] = loss
            mappings.setdefault(name, {})['loss_kdcl'] = mapping
        super().__init__(peers=peers, distiller=distiller, **kwargs)
        self.ensemble_strategy = ensemble_strategy
        self.ignore_index = ignore_index
        if ensemble_strategy == 'general':
            self.register_buffer('general_weights',
                                 torch.full((len(names), ), 1.0 / len(names)))

    @staticmethod
    def check_detection(peers: Dict[str, dict], ensemble_strategy: str,
                        kwargs: dict) -> None:
        """Refuses KDCL settings detection does not support: ensembles
        other than :data:`DET_KDCL_STRATEGIES`, several views, detectors
        whose priors or assigners do not match, two-stage detectors (also
        run by ``tools/train.py`` on the config).

        Args:
            peers (dict): ``model.peers``.
            ensemble_strategy (str): ``model.ensemble_strategy``.
            kwargs (dict): The other ``model`` fields.
        """
        if ensemble_strategy not in DET_KDCL_STRATEGIES:
            raise ValueError(
                f'model.ensemble_strategy: "{ensemble_strategy}" is not '
                'defined on detection heads; use one of '
                f'{list(DET_KDCL_STRATEGIES)}.')
        views = (kwargs.get('data_preprocessor') or {}).get('num_views', 1)
        if views != 1:
            raise ValueError(
                f'model.data_preprocessor.num_views: {views} views; KDCL '
                'on detection shares one view (the heads\' targets are '
                'assigned on it). Use a single-view DetDataPreprocessor.')
        check_det_peer_configs(peers, kwargs.get('student', 'student'),
                               kwargs.get('num_classes'), logit_terms=True,
                               target_terms=True)
        for name, cfg in peers.items():
            model = peer_model_config(cfg, kwargs.get('num_classes'))
            if model is not None and dense_head_key(model) == 'rpn_head':
                raise ValueError(
                    f'model.peers.{name}: KDCL on two-stage detectors is not '
                    'supported (its ensemble would cover the RPN only); use '
                    'DML or SwitOKD, which also distill the RoI head.')

    def _det_ensemble(self) -> DenseHeadRecord:
        """KDCL's ``z_t`` on the dense heads, as a record whose valid
        priors are those the student's head assigned."""
        records = [
            self.record_logits(name, LOGITS) for name in self.peer_names
        ]
        student = self.record_logits(self.student_name, LOGITS)
        assigned = [
            inside & (weights > 0) for inside, weights in zip(
                student.valid, student.targets['label_weights'])
        ]
        ensemble = det_kdcl_ensemble([r.cls_scores for r in records],
                                     student.targets['labels'], assigned,
                                     student.num_logits, student.activation,
                                     self.ensemble_strategy)
        return student._replace(
            cls_scores=ensemble, valid=assigned, targets={})

    def step_data(self, data_samples: list) -> Dict[str, Tensor]:
        """The ensemble ``z_t`` of this step, computed once for all
        networks.

        Args:
            data_samples (list): The batch's data samples (labels).

        Returns:
            dict: ``{'kdcl_ensemble': z_t}`` (detached; for detection a
            :class:`DenseHeadRecord` of the ensemble maps).
        """
        if isinstance(self.task, DetTask):
            return {'kdcl_ensemble': self._det_ensemble()}
        logits = [
            self.record_logits(name, LOGITS) for name in self.peer_names
        ]
        target = self.task.labels(data_samples).to(logits[0].device)
        weights = getattr(self, 'general_weights', None)
        return {
            'kdcl_ensemble':
            kdcl_ensemble(logits, target, self.ensemble_strategy,
                          self.task.ignored_label(self.ignore_index),
                          weights)
        }

    @torch.no_grad()
    def held_out_error_gram(self,
                            batches: Iterable[dict]) -> Tuple[Tensor, Tensor]:
        """Sums of KDCL-General's error covariance over held-out batches.

        Every network predicts every batch (the caller sets eval mode);
        see :func:`kdcl_error_gram`.

        Args:
            batches (Iterable[dict]): Dataloader batches.

        Returns:
            tuple[Tensor, Tensor]: ``(M, M)`` sums and the count (float64,
            on the model's device), to be all-reduced over ranks.
        """
        distiller = unwrap(self.distiller)
        num = len(self.peer_names)
        device = next(self.parameters()).device
        gram = torch.zeros(num, num, dtype=torch.float64, device=device)
        count = torch.zeros((), dtype=torch.float64, device=device)
        for batch in batches:
            data = self.data_preprocessor(batch, False)
            views = self.peer_inputs(data['inputs'])
            logits: List[Tensor] = []
            for name in self.peer_names:
                with distiller.recording(name):
                    self.peer(name)(
                        views[name], data['data_samples'], mode='tensor')
                logits.append(self.record_logits(name, LOGITS))
            target = self.task.labels(data['data_samples']).to(device)
            batch_gram, batch_count = kdcl_error_gram(
                logits, target, self.task.ignored_label(self.ignore_index))
            gram += batch_gram
            count += batch_count
        return gram, count
