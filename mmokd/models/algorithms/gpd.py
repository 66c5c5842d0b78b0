"""Gap Preserving Distillation (Guo et al., ICLR 2025)."""
import copy
import inspect
from contextlib import contextmanager, nullcontext
from typing import (ContextManager, Dict, Iterator, List, Optional, Tuple,
                    Union)

import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import DefaultScope
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from mmokd.registry import MODELS
from mmokd.utils.checkpoint import load_checkpoint_safely
from ..builders.num_classes import (preprocessor_with_num_classes,
                                    with_num_classes)
from ..gpd import (expand_to_dynamic_teacher, export_student, gpd_mode,
                   step_weight_cache)
from ..tasks import BaseTask, TaskTerm
from ..tasks.det_matching import refuse_gpd_detectors
from ..utils import (LossDict, build_loss, build_nonfinite_guard,
                     check_flag, is_loss_term, unwrap)
from .base import PeerAlgorithm


#: Suffix of each mode's logged terms.
SUFFIX = {'dynamic_teacher': 'dt', 'student': 's'}


def _plain_state_dict(checkpoint: dict) -> Dict[str, Tensor]:
    """The weights of a plain-model checkpoint (``state_dict`` or bare)."""
    return checkpoint.get('state_dict', checkpoint)


@MODELS.register_module()
class GPD(PeerAlgorithm):
    """Gap Preserving Distillation: a student trained with a dynamic
    teacher that shares its parameters.

    Guo, Zhang, Pan, Liu, Zhang, Chen, "Gap Preserving Distillation by
    Building Bidirectional Mappings with A Dynamic Teacher", ICLR 2025. The
    dynamic teacher (DT) is the student widened ``ratio`` times
    (:func:`mmokd.models.gpd.expand_to_dynamic_teacher`): one parameter
    store of the DT's shapes, of which the student is a scaled prefix view
    (hard parameter sharing), initialised by Inverse Reparameterization so
    that both start with the same function. Each iteration (Algorithm 1 in
    the authors' code's order)::

        z_T = T(x)                                    (static teacher, no grad)
        L_D = CE(z_D, y) + KD(z_D, z_T)               -> backward
        L_S = CE(z_S, y) + KD(z_S, z_T)
              + 3.0 * SCE(z_S, sg(z_D))               -> backward
        clip gradient norm, one optimizer step on the store

    ``CE`` is the network's own task loss (for mmseg also its auxiliary
    head), ``KD`` the ``static_kd`` loss (omitted without a teacher: the
    from-scratch and fine-tuning scenarios) and ``SCE`` the label-smoothed
    soft cross-entropy :class:`GPDSoftCELoss`. The two backward passes give
    the gradient of ``L_D + L_S`` while only one graph is alive at a time.
    The deployed student is the store's student view, exported with its
    original keys and shapes (:func:`export_student`, Channel-Branch
    Reparameterization): no post-training, the original parameter count.

    The peers ``'student'`` and ``'dynamic_teacher'`` (and ``'teacher'``
    with a static teacher) can be evaluated by
    ``mmokd.OnlineDistillValLoop`` / ``OnlineDistillTestLoop``; the
    student by default.

    Initialisation: the runner's ``init_weights`` builds a fresh student,
    initialises it (its own ``init_weights``, e.g. a ``Pretrained``
    ``init_cfg``, then ``student_ckpt`` when given), expands it and copies
    the result into the store; the store's modules are never re-initialised
    by the student's own ``init_weights``. Before that (a model only built,
    e.g. for testing a checkpoint) the store is the expansion of a
    randomly initialised student.

    Under distributed training use
    ``model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel')``
    so that this ``train_step`` runs (the store is one DDP module whose
    gradients are synchronised at each of the two backward passes).

    Example:
        >>> model = dict(
        ...     type='mmokd.GPD',
        ...     architecture=dict(
        ...         type='mmokd.ExternalModel',
        ...         cfg_path='mmpretrain::resnet/resnet18_8xb32_in1k.py'),
        ...     gpd=dict(ratio=2, input_boundary=['backbone.conv1'],
        ...              output_boundary=['head.fc']),
        ...     logits='head.fc')

    Args:
        architecture (dict | nn.Module): The student network (e.g. an
            ``mmokd.ExternalModel`` of an mmpretrain / mmseg config). A
            built module is taken as already initialised.
        gpd (dict, optional): Keyword arguments of
            :func:`expand_to_dynamic_teacher` (``ratio``, ``noise_std``,
            ``input_boundary``, ``output_boundary``, ``scope``,
            ``branches``, ...). Defaults to ``dict(ratio=2)``.
        logits (str): Name of the module whose output is the logits, in
            the student (``'head.fc'`` for mmpretrain,
            ``'decode_head.conv_seg'`` for mmseg).
        dt_loss (dict, optional): The DT -> student term. Defaults to
            ``dict(type='mmokd.GPDSoftCELoss', loss_weight=3.0,
            label_smoothing=0.1)``.
        teacher (dict | nn.Module, optional): A static pretrained teacher,
            frozen (no gradient, never stepped).
        teacher_ckpt (str, optional): Local checkpoint of the teacher,
            loaded with ``strict=True`` by ``init_weights``; otherwise the
            teacher's own ``init_cfg`` (e.g. ``Pretrained``) is used.
        teacher_logits (str, optional): Logits module of the teacher;
            defaults to ``logits``.
        teacher_norm_eval (bool): Keep the teacher's BatchNorm in eval mode
            (running statistics). The authors' code never calls ``eval()``
            on its teacher, so its BatchNorm normalises with batch
            statistics during training; set ``False`` to reproduce that.
            Defaults to True.
        static_kd (dict, optional): Loss from the static teacher, applied
            to the DT and to the student (e.g. MMRazor's ``DKDLoss`` or
            ``mmokd.DMLLoss``); called as ``loss(preds_S, preds_T)`` or,
            when its ``forward`` takes a third argument, with the labels.
            Required with ``teacher``.
        student_ckpt (str, optional): Local checkpoint of the plain student
            loaded (``strict=True``) before expansion, for fine-tuning.
        nonfinite_guard (dict, optional): Config of
            :class:`~mmokd.models.utils.NonFiniteGuard` (see
            :class:`OnlineDistill`); checks both modes' losses before the
            optimizer step. Defaults to ``dict(policy='stop')``.
        data_preprocessor (dict | nn.Module, optional): Defaults to the
            student's own.
        num_classes (int, optional): Class count written into the
            student's (and static teacher's) heads and the preprocessor
            before they are built (see :class:`OnlineDistill`). Defaults
            to None (their own counts).
        task (dict | BaseTask, optional): See :class:`OnlineDistill`.
            Defaults to the student's.
    """

    def __init__(
            self,
            architecture: Union[dict, nn.Module],
            gpd: Optional[dict] = None,
            logits: str = 'head.fc',
            dt_loss: Optional[dict] = None,
            teacher: Optional[Union[dict, nn.Module]] = None,
            teacher_ckpt: Optional[str] = None,
            teacher_logits: Optional[str] = None,
            teacher_norm_eval: bool = True,
            static_kd: Optional[dict] = None,
            student_ckpt: Optional[str] = None,
            nonfinite_guard: Optional[dict] = None,
            data_preprocessor: Optional[Union[dict, nn.Module]] = None,
            num_classes: Optional[int] = None,
            task: Optional[Union[dict, BaseTask]] = None) -> None:
        if (teacher is None) != (static_kd is None):
            raise ValueError(
                'model.teacher and model.static_kd go together: a static '
                'teacher needs the loss that distils it (e.g. '
                "static_kd=dict(type='DKDLoss', tau=1, alpha=1, beta=0.5)),"
                ' and that loss needs a teacher.')
        check_flag(teacher_norm_eval, 'model.teacher_norm_eval')
        if teacher_ckpt is not None and teacher is None:
            raise ValueError('model.teacher_ckpt is set but model.teacher '
                             'is not; give the teacher network config.')
        for field, path in (('student_ckpt', student_ckpt), ('teacher_ckpt',
                                                             teacher_ckpt)):
            if path is not None and '://' in path:
                raise ValueError(
                    f'model.{field}: "{path}" is a URL; give a local file, '
                    "or load it through the network's init_cfg=dict("
                    "type='Pretrained', checkpoint=...).")
        refuse_gpd_detectors({
            'model.architecture': architecture,
            'model.teacher': teacher
        })
        architecture = with_num_classes(architecture, num_classes,
                                        'model.architecture')
        teacher = with_num_classes(teacher, num_classes, 'model.teacher')
        data_preprocessor = preprocessor_with_num_classes(
            data_preprocessor, num_classes)
        architecture_cfg = None
        if not isinstance(architecture, nn.Module):
            # Rebuilt by init_weights, possibly under another default scope.
            architecture_cfg = copy.deepcopy(architecture)
            scope = DefaultScope.get_current_instance()
            if scope is not None:
                architecture_cfg.setdefault('_scope_', scope.scope_name)
            architecture = MODELS.build(architecture)
        self._check_module(architecture, logits, 'model.logits')
        super().__init__(
            data_preprocessor=self.shared_preprocessor(
                data_preprocessor, architecture))
        self._architecture_cfg = architecture_cfg
        self.gpd_cfg = {'ratio': 2, **(gpd or {})}
        self.logits = logits
        self.student_ckpt = student_ckpt
        self.architecture = expand_to_dynamic_teacher(architecture,
                                                      **self.gpd_cfg)
        self.dt_loss = build_loss(
            dt_loss or dict(type='mmokd.GPDSoftCELoss', loss_weight=3.0),
            'model.dt_loss')
        self.nonfinite_guard = build_nonfinite_guard(nonfinite_guard)
        self.teacher_ckpt = teacher_ckpt
        self.teacher_norm_eval = teacher_norm_eval
        self.teacher_logits = teacher_logits or logits
        if teacher is not None:
            if not isinstance(teacher, nn.Module):
                teacher = MODELS.build(teacher)
            teacher.requires_grad_(False)
            self._check_module(teacher, self.teacher_logits,
                               'model.teacher_logits')
            self.teacher = teacher
            self.static_kd = build_loss(static_kd, 'model.static_kd')
        else:
            self.teacher = None
            self.static_kd = None
        self._setup_peers(['student', 'dynamic_teacher'] +
                          (['teacher'] if teacher is not None else []),
                          'student', task, frozen_peers=['teacher'])
        self.check_class_counts()
        for term in (self.dt_loss, self.static_kd):
            if isinstance(term, TaskTerm):
                term.task = self.task

    @property
    def optimized_names(self) -> List[str]:
        """The parameter store, the one module GPD optimises (both
        trained peers are views of it).

        Returns:
            list[str]: ``['architecture']``.
        """
        return ['architecture']

    @staticmethod
    def _check_module(network: nn.Module, name: str, field: str) -> None:
        """Raises unless ``network`` has a submodule called ``name``."""
        names = dict(network.named_modules())
        if name not in names:
            raise ValueError(
                f'{field}: the network has no module "{name}" (e.g. '
                '"head.fc" for mmpretrain, "decode_head.conv_seg" for '
                'mmseg).')

    @property
    def store(self) -> nn.Module:
        """The expanded network holding the shared parameters."""
        return unwrap(self.architecture)

    def init_weights(self) -> None:
        """Initialises the static teacher and the store.

        The student is built afresh, initialised by its own
        ``init_weights`` (e.g. a ``Pretrained`` ``init_cfg``) and
        ``student_ckpt``, then expanded; its expanded state is copied into
        the store. A student given as a module keeps the expansion made at
        construction.
        """
        if self.teacher is not None:
            self._init_teacher()
        if self._architecture_cfg is not None:
            student = MODELS.build(copy.deepcopy(self._architecture_cfg))
            student.init_weights()
            if self.student_ckpt is not None:
                student.load_state_dict(
                    _plain_state_dict(
                        load_checkpoint_safely(self.student_ckpt)),
                    strict=True)
            expanded = expand_to_dynamic_teacher(student, **self.gpd_cfg)
            self.store.load_state_dict(expanded.state_dict(), strict=True)
        self._is_init = True

    def _init_teacher(self) -> None:
        """Loads ``teacher_ckpt`` or runs the teacher's own init."""
        teacher = unwrap(self.teacher)
        if self.teacher_ckpt is not None:
            teacher.load_state_dict(
                _plain_state_dict(load_checkpoint_safely(self.teacher_ckpt)),
                strict=True)
        elif hasattr(teacher, 'init_weights'):
            teacher.init_weights()

    def train(self, mode: bool = True) -> 'GPD':
        """Sets train / eval mode; the teacher stays in eval mode when
        ``teacher_norm_eval``."""
        super().train(mode)
        if self.teacher is not None and self.teacher_norm_eval:
            self.teacher.eval()
        return self

    def peer(self, name: str) -> nn.Module:
        """The network computing peer ``name``: the store (possibly
        DDP-wrapped) for the student and the DT, or the static teacher.

        Args:
            name (str): A peer name.

        Returns:
            nn.Module: The network.
        """
        self.check_peer(name)
        return self.teacher if name == 'teacher' else self.architecture

    def deployable_state_dict(self, peer: str) -> Dict[str, Tensor]:
        """Weights of ``peer`` as its plain network.

        Args:
            peer (str): ``'student'`` (extracted from the store with the
                original keys and shapes) or ``'teacher'``.

        Returns:
            dict: A state dict loadable with ``strict=True`` into the
            network the peer's config describes.
        """
        self.check_peer(peer)
        if peer == 'dynamic_teacher':
            raise ValueError(
                'The dynamic teacher is the widened view of the student\'s '
                'parameter store and has no plain network config; export '
                'the student (peer="student").')
        if peer == 'teacher':
            return unwrap(self.teacher).state_dict()
        return export_student(self.store)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``'loss'``: all GPD terms in one pass; otherwise the
        ``eval_peer``'s ``'predict'`` / ``'tensor'`` output."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if self.eval_peer == 'teacher':
            return self.teacher(inputs, data_samples, mode=mode)
        with gpd_mode(self.store, self.eval_peer):
            return self.architecture(inputs, data_samples, mode=mode)

    @staticmethod
    @contextmanager
    def _recording(network: nn.Module, name: str) -> Iterator[List[Tensor]]:
        """Collects the outputs of ``network``'s module ``name``."""
        outputs: List[Tensor] = []
        handle = network.get_submodule(name).register_forward_hook(
            lambda module, args, output: outputs.append(output))
        try:
            yield outputs
        finally:
            handle.remove()

    def _teacher_output(self, inputs: Tensor,
                        data_samples: list) -> Optional[Tensor]:
        """The static teacher's logits (no gradient), if there is one."""
        if self.teacher is None:
            return None
        with self._recording(unwrap(self.teacher),
                             self.teacher_logits) as records, \
                torch.no_grad():
            self.teacher(inputs, data_samples, mode='tensor')
        return records[-1]

    def _static_kd_term(self, logits: Tensor, logits_t: Tensor,
                        labels: Tensor) -> Tensor:
        """``static_kd`` with or without the labels, as it accepts."""
        params = inspect.signature(self.static_kd.forward).parameters
        if len(params) >= 3:
            return self.static_kd(logits, logits_t, labels)
        return self.static_kd(logits, logits_t)

    def _mode_terms(
            self,
            mode: str,
            inputs: Tensor,
            data_samples: list,
            logits_t: Optional[Tensor],
            logits_dt: Optional[Tensor] = None) -> Tuple[LossDict, Tensor]:
        """One forward of the store in ``mode`` and that mode's terms.

        Returns:
            tuple: ``(terms, logits)``; terms ``loss_ce_{dt,s}`` (the task
            loss), ``loss_kd_{dt,s}`` (with a teacher), ``loss_gpd`` (when
            ``logits_dt`` is given) and the task's other log values
            prefixed ``{dt,s}.``.
        """
        suffix = SUFFIX[mode]
        with gpd_mode(self.store, mode), \
                self._recording(self.store, self.logits) as records:
            task = self.architecture(inputs, data_samples, mode='loss')
        logits = records[-1]
        task_loss, task_log = self.parse_losses(task)
        terms = {f'loss_ce_{suffix}': task_loss}
        terms.update({
            f'{suffix}.{key}': value.detach()
            for key, value in task_log.items() if 'loss' not in key
        })
        needs_labels = logits_t is not None or logits_dt is not None
        labels = self.task.labels(data_samples).to(logits.device) \
            if needs_labels else None
        if logits_t is not None:
            terms[f'loss_kd_{suffix}'] = self._static_kd_term(
                logits, logits_t, labels)
        if logits_dt is not None:
            terms['loss_gpd'] = self.dt_loss(logits, logits_dt, labels)
        return terms, logits

    @staticmethod
    def _total(terms: LossDict) -> Tensor:
        """Sum of the loss terms (:func:`is_loss_term`)."""
        return sum(value for key, value in terms.items() if is_loss_term(key))

    def loss(self, inputs: Tensor, data_samples: list) -> LossDict:
        """All terms from one DT and one student forward, both graphs
        alive (the gradient of one backward equals ``train_step``'s two).

        Args:
            inputs (Tensor): Preprocessed batch.
            data_samples (list): The batch's data samples.

        Returns:
            dict: ``loss_ce_dt``, ``loss_kd_dt``, ``loss_ce_s``,
            ``loss_kd_s``, ``loss_gpd`` (KD terms only with a teacher).
        """
        logits_t = self._teacher_output(inputs, data_samples)
        terms, logits_dt = self._mode_terms('dynamic_teacher', inputs,
                                            data_samples, logits_t)
        student_terms, _ = self._mode_terms('student', inputs, data_samples,
                                            logits_t, logits_dt)
        terms.update(student_terms)
        return terms

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """One GPD iteration in the authors' order.

        DT forward and backward, then student forward and backward (the
        gradients accumulate on the shared store), then one optimizer step
        (with the wrapper's gradient clipping; AMP through the wrapper).
        Each multi-branch kernel is merged once for the step and the
        student computes with its view (same gradients as one merge per
        forward). The non-finite guard checks both modes' losses before
        the step (a skipped step only clears the gradients) and the store
        after it.

        Args:
            data (dict | tuple | list): A batch from the dataloader.
            optim_wrapper (OptimWrapper): The one optimizer of the store.

        Returns:
            dict: Detached log variables: the terms of :meth:`loss`,
            ``loss_dt`` and ``loss_s`` (each side's sum) and ``loss``.
        """
        self._check_optim_wrapper(optim_wrapper)
        guard = self.nonfinite_guard
        modes = dict.fromkeys(SUFFIX, self.architecture)
        saved = guard.save_buffers(modes)
        with step_weight_cache(self.store):
            return self._cached_train_step(data, optim_wrapper, saved,
                                           modes)

    def _cached_train_step(self, data: Union[dict, tuple, list],
                           optim_wrapper: OptimWrapper, saved: dict,
                           modes: dict) -> Dict[str, Tensor]:
        """:meth:`train_step` inside the step's weight cache.

        The DT half runs without DDP's gradient all-reduce: only the
        student's backward reaches the multi-branch parameters, with both
        modes' gradients (:func:`~mmokd.models.gpd.step_weight_cache`), and
        it synchronises the accumulated gradients once per step.

        Args:
            data (dict | tuple | list): A batch from the dataloader.
            optim_wrapper (OptimWrapper): The one optimizer of the store.
            saved (dict): The guard's saved buffers.
            modes (dict): The guard's networks by mode.

        Returns:
            dict: See :meth:`train_step`.
        """
        guard = self.nonfinite_guard
        with self._without_gradient_sync():
            with optim_wrapper.optim_context(self):
                data = self.data_preprocessor(data, True)
                inputs, data_samples = data['inputs'], data['data_samples']
                logits_t = self._teacher_output(inputs, data_samples)
                terms, logits_dt = self._mode_terms(
                    'dynamic_teacher', inputs, data_samples, logits_t)
            loss_dt = self._total(terms)
            optim_wrapper.backward(loss_dt)
        with optim_wrapper.optim_context(self):
            student_terms, _ = self._mode_terms('student', inputs,
                                                data_samples, logits_t,
                                                logits_dt.detach())
        loss_s = self._total(student_terms)
        if guard.check_losses(
                dict(dynamic_teacher=terms, student=student_terms), saved,
                modes):
            optim_wrapper.zero_grad()
        else:
            optim_wrapper.update_params(loss_s)
        guard.check_weights(dict(architecture=self.architecture))
        terms.update(student_terms)
        log_vars = {key: value.detach() for key, value in terms.items()}
        log_vars.update(
            loss_dt=loss_dt.detach(),
            loss_s=loss_s.detach(),
            loss=(loss_dt + loss_s).detach())
        return log_vars

    def _without_gradient_sync(self) -> ContextManager:
        """DDP's ``no_sync`` of the store when it is wrapped, else a
        no-op."""
        if isinstance(self.architecture, DistributedDataParallel):
            return self.architecture.no_sync()
        return nullcontext()

    @staticmethod
    def _check_optim_wrapper(optim_wrapper: OptimWrapper) -> None:
        """Raises for optimizer set-ups GPD cannot train with."""
        if isinstance(optim_wrapper, OptimWrapperDict):
            raise ValueError(
                'optim_wrapper: GPD trains one parameter store with one '
                'optimizer; use a plain OptimWrapper, not '
                "constructor='mmokd.PeerOptimWrapperConstructor'.")
        if optim_wrapper._accumulative_counts != 1:
            raise ValueError(
                'optim_wrapper.accumulative_counts: GPD runs two backward '
                'passes per step and does not support gradient '
                'accumulation; set it to 1 (raise the batch size instead).')
