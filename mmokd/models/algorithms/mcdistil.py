"""MC-Distil: students weighted per item by a meta-learned coordinator
(Tambat, S, Ramakrishnan, Shenoy, TMLR 2025)."""
import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import Tensor
from torch.func import functional_call

from mmokd.registry import MODELS
from mmokd.utils.mcdistil_checks import HYPERGRADS
from ..losses.functional import (lookahead_weight_grads, mcdistil_item_losses,
                                 mcdistil_weighted_losses, resize_labels,
                                 sgd_lookahead)
from ..losses.functional.common import valid_items
from ..mcdistil import MCDistilCNet
from ..utils import (LossDict, check_integer, check_positive, config_field,
                     graph_free_layout, unwrap)
from .dml import LOGITS, distiller_recording_logits
from .online_distill import OnlineDistill

#: Step data name of the C-Net weights routed to every student's terms.
WEIGHTS = 'mcdistil_weights'
#: The two C-Net-weighted terms each student owns.
MC_CE, MC_KD = 'loss_mc_ce', 'loss_mc_kd'


def _effective_lr(group: dict, has_buffer: bool) -> float:
    """How much one SGD step of ``group`` moves a parameter per unit of
    gradient: ``lr`` times the momentum factor (``1 - dampening`` with a
    buffer, ``1`` without; ``1 + momentum * that`` with nesterov)."""
    factor = 1.0
    if group['momentum'] != 0:
        factor = 1 - group['dampening'] if has_buffer else 1.0
        if group['nesterov']:
            factor = 1 + group['momentum'] * factor
    return group['lr'] * factor


class _MetaBatches:
    """Endless batches of the meta dataloader, one sampler epoch after
    another, starting after the first ``start`` batches (resume)."""

    def __init__(self, loader: Iterator, start: int) -> None:
        self.loader = loader
        self.epoch = start // len(loader)
        self._batches = self._epoch_batches()
        for _ in range(start % len(loader)):
            next(self._batches)

    def _epoch_batches(self) -> Iterator:
        sampler = getattr(self.loader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(self.epoch)
        return iter(self.loader)

    def __next__(self):
        try:
            return next(self._batches)
        except StopIteration:
            self.epoch += 1
            self._batches = self._epoch_batches()
            return next(self._batches)


@MODELS.register_module()
class MCDistil(OnlineDistill):
    """MC-Distil: k students distilled from a frozen teacher, each item's
    CE and KD weights given by a coordinator network (C-Net) that is
    meta-learned on held-out data.

    Tambat, S, Ramakrishnan, Shenoy, "Unified Wisdom: Harnessing
    Collaborative Learning to Improve Efficacy of Knowledge Distillation",
    TMLR 2025, Sec. 3 and Algorithm 1; where the paper and the reference
    code (AtharvaTambat/MC-Distil, ``train_mcdistil.py``, ``meta.py``)
    differ, the code is followed. Student ``i`` (0-based, in
    ``peers`` order without the teacher) minimises::

        L_i = mean_b alpha_i[b] CE(z_i[b], y_b)
              + tau^2 mean_b beta_i[b] KL(p_T^tau[b] || p_i^tau[b]),
        w = g_phi(x) >= 0, alpha_i = w[:, 2i], beta_i = w[:, 2i + 1],

    (terms ``loss_mc_ce`` and ``loss_mc_kd``, :class:`MCDistilLoss`; the
    first replaces the head's CE, ``hard_loss_keys``). Every
    ``meta_interval``-th iteration, before the students step, the C-Net
    takes an Adam step on the held-out loss of the students after a
    virtual SGD step (the "look-ahead", exactly ``torch.optim.SGD.step``
    with each student's current optimizer state)::

        theta'_i = SGD_step(theta_i, grad_theta L_i(theta_i; g_phi(x)))
        L_meta(phi) = sum_i CE_mean(S_i(x_v; theta'_i), y_v)

    summed over students (no ``1/k``, no teacher): the shared objective is
    the students' "collaboration"; the reference code has no
    student-to-student term. Then ``w`` is recomputed with the new ``phi``
    (no gradient) and every student steps on its ``L_i``.

    ``hypergrad`` chooses how ``dL_meta/dw`` is computed. Every mode
    starts from ``v = grad_theta' L_val`` at the look-ahead and uses that
    the look-ahead is ``theta' = theta - r * grad_theta L_i + c`` per
    parameter (``r`` the group's lr times its momentum factor, ``c``
    independent of ``w``), so ``dL_meta/dw = -sum_n r_n <v_n,
    d grad_theta_n L_i / dw>``, that is, per item::

        dL_meta/d alpha_i[b] = -(1/N) <r v, grad_theta ce_i[b]>
        dL_meta/d beta_i[b]  = -(tau^2/N) <r v, grad_theta kl_i[b]>

    ``'forward_mode'`` (exact; the classification default) takes these
    directional derivatives of every item's loss from one forward with
    tangents ``r v`` (forward-mode AD). ``'second_order'`` (exact; the
    reference's route) differentiates the look-ahead's gradient again
    along ``-r v`` (double backward): the same derivative, with about
    twice the peak memory and a fifth more FLOPs. ``'finite_difference'``
    takes them from two forwards at ``theta +- eps r v / max(r)``
    (``eps = fd_eps / |r v| * max(r)``): no second derivative and no
    forward-mode AD, so SyncBN and mmcv ops work (the segmentation
    default). All use each parameter group's lr, momentum, dampening,
    nesterov and weight decay.

    The meta step runs in fp32 on the unwrapped students
    (``torch.func.functional_call`` with cloned buffers: the students'
    parameters, BN statistics, ``.grad`` and optimizer state are left
    untouched), one student at a time. The C-Net is called through its
    DDP wrapper, so its gradient is averaged over ranks; each rank's
    look-ahead uses its local batch (the reference is single-GPU).
    Segmentation items are the pixels of a student's logits grid (the
    C-Net is then dense, ``(B, 2k, H/8, W/8)``, resized bilinearly).

    The teacher is the only frozen peer; the other peers are students.
    The forwards without a graph (the teacher's, the C-Net's ``w``, the
    finite differences') take their batch in :func:`graph_free_layout`
    (channels-last on the CPU, where it is faster); the students'
    forwards with a graph or tangents keep NCHW. The teacher runs with its
    BN layers folded into its convolutions (``BatchNormFolding``, as
    every frozen peer of :class:`OnlineDistill`). Checkpoints hold
    ``cnet.*``, the C-Net's Adam state (optimizer key ``cnet``) and the
    buffer ``meta_steps``; ``mmokd.MCDistilMetaHook`` feeds the held-out
    batches and sets the trigger.

    Example:
        >>> model = dict(
        ...     type='mmokd.MCDistil',
        ...     peers=dict(teacher=..., s_small=..., s_large=...),
        ...     student='s_large', teacher='teacher', logits='head.fc',
        ...     cnet=dict(type='mmokd.MCDistilCNet', num_students=2))

    Args:
        peers (dict): ``{name: network cfg}``: the teacher and the
            students.
        logits (str | dict): Module whose output is a peer's logits, one
            name for all peers or ``{peer: name}``.
        cnet (dict): Config of :class:`MCDistilCNet` with
            ``num_students`` = the number of students.
        teacher (str): The frozen, pretrained peer. Defaults to
            ``'teacher'``.
        tau (float): Temperature. Defaults to 2.0.
        meta_interval (int): ``L``: the C-Net steps when
            ``(batch_idx + 1) % L == 0``. Defaults to 20.
        hypergrad (str, optional): ``'forward_mode'``,
            ``'second_order'`` or ``'finite_difference'``. Defaults to
            None: forward mode for classification, finite differences for
            dense tasks (segmentation).
        fd_eps (float): Step of the finite difference, relative to
            ``|v|``. Defaults to 0.01.
        hard_loss_keys (Sequence[str]): The students' task-loss terms
            replaced by ``loss_mc_ce`` (mmpretrain ``('loss_task',)``,
            mmseg ``('decode.loss_ce',)``; mmseg's auxiliary loss stays,
            unweighted). Defaults to ``('loss_task',)``.
        ignore_index (int): Label left out of dense tasks. Defaults to
            255.
        distiller (dict, optional): Extra recorders and terms (e.g. one
            ``ADMDistiller`` pair per student); not weighted by the C-Net
            and left out of the look-ahead.
        **kwargs: Other arguments of :class:`OnlineDistill`
            (``frozen_peers`` may only repeat ``[teacher]``).
    """

    step_data_names = (WEIGHTS, )
    extra_optimized_names = ('cnet', )

    def __init__(self,
                 peers: Dict[str, dict],
                 logits: Union[str, Dict[str, str]],
                 cnet: dict,
                 teacher: str = 'teacher',
                 tau: float = 2.0,
                 meta_interval: int = 20,
                 hypergrad: Optional[str] = None,
                 fd_eps: float = 0.01,
                 hard_loss_keys: Sequence[str] = ('loss_task', ),
                 ignore_index: int = 255,
                 distiller: Optional[dict] = None,
                 **kwargs) -> None:
        if teacher not in peers:
            raise ValueError(f'model.teacher: "{teacher}" is not one of '
                             f'model.peers {list(peers)}.')
        frozen = kwargs.pop('frozen_peers', None)
        if frozen is not None and list(frozen) != [teacher]:
            raise ValueError(
                f'model.frozen_peers: {list(frozen)} contradicts '
                f'model.teacher "{teacher}"; MC-Distil freezes exactly the '
                'teacher, leave frozen_peers out.')
        if 'cnet' in peers:
            raise ValueError('model.peers: "cnet" is the C-Net\'s name; '
                             'rename that peer.')
        if hypergrad is not None and hypergrad not in HYPERGRADS:
            raise ValueError(f'model.hypergrad must be one of '
                             f'{list(HYPERGRADS)}, got {hypergrad!r}.')
        self.tau = check_positive(tau, 'model.tau')
        self.meta_interval = check_integer(meta_interval,
                                           'model.meta_interval', 1)
        self.fd_eps = check_positive(fd_eps, 'model.fd_eps')
        self.hard_loss_keys = tuple(hard_loss_keys)
        names = list(peers)
        self.students = [name for name in names if name != teacher]
        distiller, losses, mappings = distiller_recording_logits(
            distiller, logits, names)
        for index, name in enumerate(self.students):
            for term, key in (('ce', MC_CE), ('kd', MC_KD)):
                losses.setdefault(name, {})[key] = dict(
                    type='mmokd.MCDistilLoss',
                    term=term,
                    index=index,
                    tau=tau,
                    ignore_index=ignore_index)
                mappings.setdefault(name, {})[key] = dict(
                    preds_S=dict(peer=name, recorder=LOGITS),
                    preds_T=dict(peer=teacher, recorder=LOGITS),
                    weights=dict(data=WEIGHTS),
                    gt=dict(data='gt'))
        super().__init__(
            peers=peers, distiller=distiller, frozen_peers=[teacher],
            **kwargs)
        self.teacher_name = teacher
        dense_default = 'finite_difference' if self.task.is_dense \
            else 'forward_mode'
        self.hypergrad = hypergrad or dense_default
        self.ignore_index = self.task.ignored_label(ignore_index)
        with config_field('model.cnet'):
            self.cnet: MCDistilCNet = MODELS.build(cnet)
        if self.cnet.num_students != len(self.students):
            raise ValueError(
                f'model.cnet.num_students is {self.cnet.num_students}, but '
                f'there are {len(self.students)} students {self.students} '
                f'(every peer but the teacher "{teacher}").')
        if self.cnet.dense != self.task.is_dense:
            raise ValueError(
                f'model.cnet.dense must be {self.task.is_dense} for '
                f'{self.task.name}: one weight per '
                f'{"pixel" if self.task.is_dense else "image"}.')
        if self.hypergrad != 'finite_difference':
            self._refuse_sync_bn()
        self.register_buffer('meta_steps', torch.zeros((), dtype=torch.int64))
        self.meta_triggered = False
        self._meta_batches: Optional[_MetaBatches] = None
        self._optim_wrapper: Optional[OptimWrapperDict] = None
        self._inputs: Optional[Tensor] = None
        self._weights: Optional[Tensor] = None
        self._meta_log: Dict[str, Tensor] = {}
        self._teacher_recorded = False

    def _refuse_sync_bn(self) -> None:
        """Raises if a student has SyncBN, which has neither a double
        backward nor forward-mode AD."""
        for name in self.students:
            for module in self.peer(name).modules():
                if 'SyncBatchNorm' in type(module).__name__:
                    raise ValueError(
                        f'model.hypergrad: "{self.hypergrad}" '
                        f'differentiates {name} in a way its '
                        f'{type(module).__name__} cannot be; set '
                        'model.hypergrad="finite_difference" (or plain BN in '
                        'the student).')

    def set_meta_batches(self, loader: Iterator) -> None:
        """Hands the held-out dataloader to the meta step
        (``mmokd.MCDistilMetaHook``); resumes after the ``meta_steps``
        batches already used.

        Args:
            loader (Iterator): The meta dataloader.
        """
        self._meta_batches = _MetaBatches(loader, int(self.meta_steps))

    def train_step(
        self, data: Union[dict, tuple, list],
        optim_wrapper: Union[OptimWrapper,
                             OptimWrapperDict]) -> Dict[str, Tensor]:
        """One iteration: the meta step when triggered, then the students'
        update with the C-Net's weights (see the class docstring).

        Args:
            data (dict | tuple | list): A batch from the dataloader.
            optim_wrapper (OptimWrapperDict): One SGD wrapper per student
                and an Adam wrapper ``cnet``.

        Returns:
            dict: Log variables, with ``mcdistil.alpha.{s}``,
            ``mcdistil.beta.{s}`` and, on meta steps,
            ``mcdistil.meta_loss``.
        """
        if not isinstance(optim_wrapper, OptimWrapperDict):
            raise ValueError(
                'optim_wrapper: MC-Distil needs one optimizer per student '
                'and one for the C-Net (constructor='
                '"mmokd.PeerOptimWrapperConstructor", keys '
                f'{self.optimized_names}).')
        self.check_optim_keys(optim_wrapper)
        self._optim_wrapper = optim_wrapper
        try:
            return super().train_step(data, optim_wrapper)
        finally:
            self._optim_wrapper = None
            self._inputs = self._weights = None

    def peer_losses(self, inputs: Tensor,
                    data_samples: list) -> Dict[str, LossDict]:
        """The peers' losses (:meth:`OnlineDistill.peer_losses`); on a
        triggered training step, the meta step runs first.

        Args:
            inputs (Tensor): The preprocessed batch.
            data_samples (list): Its data samples.

        Returns:
            dict: ``{peer: {loss name: value}}``.
        """
        self._teacher_recorded = False
        if self._optim_wrapper is not None and self.meta_triggered:
            teacher_logits = self.teacher_logits(inputs, data_samples)
            self._teacher_recorded = True
            self._meta_log = self.meta_step(inputs, data_samples,
                                            teacher_logits,
                                            self._optim_wrapper)
        self._inputs = inputs
        try:
            return super().peer_losses(inputs, data_samples)
        finally:
            self._teacher_recorded = False

    def record_frozen_peer(self, name: str, inputs: Tensor,
                           data_samples: list) -> None:
        """Runs the teacher for its records unless the meta step already
        did on this batch: the teacher runs once per step.

        Args:
            name (str): The frozen peer (the teacher).
            inputs (Tensor): Its input.
            data_samples (list): The batch's data samples.
        """
        if not (name == self.teacher_name and self._teacher_recorded):
            super().record_frozen_peer(name, graph_free_layout(inputs),
                                       data_samples)

    def step_data(self, data_samples: list) -> Dict[str, Tensor]:
        """The C-Net's weights of this batch, computed once under
        ``no_grad`` (after the meta step's update) for every student.

        Args:
            data_samples (list): The batch's data samples.

        Returns:
            dict: ``{'mcdistil_weights': w}``.
        """
        with torch.no_grad():
            self._weights = self.cnet(graph_free_layout(self._inputs))
        return {WEIGHTS: self._weights}

    def reweight_losses(self, losses: Dict[str, LossDict],
                        data_samples: list,
                        log_vars: Dict[str, Tensor]) -> None:
        """Removes the students' hard losses (``loss_mc_ce`` replaces
        them) and logs the mean weights and the meta loss.

        Args:
            losses (dict): ``{peer: {loss name: value}}`` of this step.
            data_samples (list): The batch's data samples.
            log_vars (dict): Log variables, extended here.
        """
        for index, name in enumerate(self.students):
            missing = [k for k in self.hard_loss_keys if k not in losses[name]]
            if missing:
                raise ValueError(
                    f'model.hard_loss_keys: {missing} are not task losses '
                    f'of {name} {sorted(losses[name])}; name the hard loss '
                    'that loss_mc_ce replaces (mmpretrain "loss_task", mmseg '
                    '"decode.loss_ce").')
            for key in self.hard_loss_keys:
                del losses[name][key]
            log_vars[f'mcdistil.alpha.{name}'] = \
                self._weights[:, 2 * index].mean()
            log_vars[f'mcdistil.beta.{name}'] = \
                self._weights[:, 2 * index + 1].mean()
        log_vars.update(self._meta_log)
        self._meta_log = {}

    @torch.no_grad()
    def teacher_logits(self, inputs: Tensor, data_samples: list) -> Tensor:
        """The frozen teacher's recorded logits of a batch.

        Args:
            inputs (Tensor): The preprocessed batch.
            data_samples (list): Its data samples.

        Returns:
            Tensor: The teacher's logits (no gradient).
        """
        super().record_frozen_peer(self.teacher_name,
                                   graph_free_layout(inputs), data_samples)
        return self.record_logits(self.teacher_name, LOGITS)

    def meta_step(self, inputs: Tensor, data_samples: list,
                  teacher_logits: Tensor,
                  optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """Updates the C-Net once on a held-out batch (TMLR 2025,
        Algorithm 1), in fp32.

        ``G = dL_meta/dw`` is accumulated student by student on
        ``w = cnet(x)`` computed without a graph; then ``w`` is computed
        again through the C-Net's wrapper, with its graph, and
        ``optim_wrapper['cnet'].update_params((w * G).sum())`` back-
        propagates ``G`` and steps Adam. Peak memory: one student's
        look-ahead graphs, then the C-Net's graph, never both.

        Args:
            inputs (Tensor): The training batch (the look-ahead's).
            data_samples (list): Its data samples.
            teacher_logits (Tensor): The teacher's logits of ``inputs``.
            optim_wrapper (OptimWrapperDict): The students' and the
                C-Net's wrappers.

        Returns:
            dict: ``{'mcdistil.meta_loss': L_meta}`` (detached).
        """
        if self._meta_batches is None:
            raise RuntimeError(
                'MCDistil: no held-out batches; add '
                'dict(type="mmokd.MCDistilMetaHook", meta_dataloader=...) to '
                'custom_hooks.')
        meta = self.data_preprocessor(next(self._meta_batches), True)
        labels = self.task.labels(data_samples).to(inputs.device)
        meta_inputs = meta['inputs']
        meta_labels = self.task.labels(meta['data_samples']).to(inputs.device)
        with torch.autocast(inputs.device.type, enabled=False):
            inputs, teacher_logits = inputs.float(), teacher_logits.float()
            leaf = self._weights_without_graph(inputs).requires_grad_()
            total = torch.zeros_like(leaf)
            meta_loss = torch.zeros((), device=inputs.device)
            for index, name in enumerate(self.students):
                grad, loss = self.weight_gradient(
                    index, leaf, inputs, labels, teacher_logits,
                    meta_inputs.float(), meta_labels,
                    optim_wrapper[name].optimizer)
                total += grad
                meta_loss += loss
            finite = torch.isfinite(meta_loss).to(torch.int32)
            all_reduce(finite, op='min')  # every rank stops alike
            if not bool(finite):
                raise FloatingPointError(
                    f'mcdistil.meta_loss is not finite ({meta_loss.item()} '
                    f'on this rank) at meta step {int(self.meta_steps)}; '
                    'lower the students\' lr or model.fd_eps.')
            # The C-Net's graph is built once the students' look-ahead
            # graphs are gone, so that the peak holds one of them only.
            weights = self.cnet(inputs)
            optim_wrapper['cnet'].update_params((weights * total).sum())
        self.meta_steps += 1
        return {'mcdistil.meta_loss': meta_loss}

    def _weights_without_graph(self, inputs: Tensor) -> Tensor:
        """``cnet(inputs)`` without a graph, the C-Net's BN statistics
        left as they were: the forward with a graph at the end of the
        meta step updates them once, as a single forward would (the
        weights are the same: BN normalises with the batch statistics in
        training mode)."""
        cnet = unwrap(self.cnet)
        saved = [buffer.clone() for buffer in cnet.buffers()]
        with torch.no_grad():
            weights = cnet(graph_free_layout(inputs))
            for buffer, value in zip(cnet.buffers(), saved):
                buffer.copy_(value)
        return weights

    def weight_gradient(self, index: int, leaf: Tensor, inputs: Tensor,
                        labels: Tensor, teacher_logits: Tensor,
                        meta_inputs: Tensor, meta_labels: Tensor,
                        optimizer: torch.optim.Optimizer
                        ) -> Tuple[Tensor, Tensor]:
        """``dL_val,i / dw`` of one student, by ``self.hypergrad``.

        Args:
            index (int): The student's position among the students.
            leaf (Tensor): Detached C-Net weights requiring grad.
            inputs (Tensor): The training batch.
            labels (Tensor): Its labels.
            teacher_logits (Tensor): The teacher's logits of ``inputs``.
            meta_inputs (Tensor): The held-out batch.
            meta_labels (Tensor): Its labels.
            optimizer (Optimizer): The student's SGD.

        Returns:
            tuple[Tensor, Tensor]: The gradient (``leaf``'s shape) and the
            student's held-out loss after the look-ahead (detached).
        """
        name = self.students[index]
        student = unwrap(self.peer(name))
        params = dict(student.named_parameters())
        groups = self._groups_of(name, params, optimizer)
        trained = [n for n in params if n in groups]
        alpha, beta = leaf[:, 2 * index], leaf[:, 2 * index + 1]
        ce, kl, valid = mcdistil_item_losses(
            self._logits(name, params, inputs), teacher_logits, labels,
            self.tau, self.ignore_index)
        second_order = self.hypergrad == 'second_order'
        if not second_order:
            alpha, beta = alpha.detach(), beta.detach()
        loss = sum(
            mcdistil_weighted_losses(ce, kl, alpha, beta, valid, self.tau))
        # Second order differentiates this gradient again below, after the
        # held-out graph is gone: the forward's graph is kept for it.
        grads = torch.autograd.grad(
            loss, [params[n] for n in trained],
            retain_graph=second_order,
            allow_unused=True)
        stepped = self._lookahead(optimizer, groups, trained, params,
                                  dict(zip(trained, grads)))
        del grads
        v, rates, val_loss = self._held_out_gradient(
            name, params, stepped, groups, optimizer, meta_inputs,
            meta_labels)
        del stepped
        if second_order:
            return self._second_order(leaf, loss, params, v, rates), val_loss
        return self._closed_form(index, leaf, inputs, labels, teacher_logits,
                                 params, v, rates, valid), val_loss

    def _held_out_gradient(
        self, name: str, params: Dict[str, Tensor],
        stepped: Dict[str, Tensor], groups: Dict[str, dict],
        optimizer: torch.optim.Optimizer, meta_inputs: Tensor,
        meta_labels: Tensor
    ) -> Tuple[Dict[str, Tensor], Dict[str, float], Tensor]:
        """``v = grad_theta' L_val`` at the look-ahead (a graph of its own,
        freed on return) and each moved parameter's effective lr: the
        look-ahead is ``theta' = theta - rate * grad_theta L_i + c``, with
        ``c`` independent of ``w``.

        Returns:
            tuple[dict, dict, Tensor]: ``v`` and the rates by parameter
            name, and the held-out loss (detached).
        """
        moved = {
            n: p.detach().requires_grad_()
            for n, p in stepped.items() if p is not params[n]
        }
        val_loss = self._held_out_loss(name, dict(params, **moved),
                                       meta_inputs, meta_labels)
        v = dict(
            zip(moved, torch.autograd.grad(val_loss, list(moved.values()))))
        rates = {
            n: _effective_lr(groups[n], self._buffer(optimizer, params[n])
                             is not None)
            for n in moved
        }
        return v, rates, val_loss.detach()

    @staticmethod
    def _second_order(leaf: Tensor, loss: Tensor, params: Dict[str, Tensor],
                      v: Dict[str, Tensor], rates: Dict[str, float]) -> Tensor:
        """``'second_order'``: ``dL_val/dw = sum_n <v_n, d theta'_n / dw>
        = -d/dw sum_n rate_n <v_n, grad_theta_n L_i>``, the double backward
        of the look-ahead's gradient along ``v``.

        Memory: the held-out graph was freed with ``v``; ``v`` is consumed
        (scaled in place and then held by the products' graph only), so
        the double backward frees each parameter's cotangent once it has
        gone through that parameter's layer, as when differentiating
        through the look-ahead.
        """
        names = list(v)
        if not names:
            return torch.zeros_like(leaf)
        grads = torch.autograd.grad(loss, [params[n] for n in names],
                                    create_graph=True)
        along = sum(
            torch.dot(g.reshape(-1),
                      v.pop(n).mul_(-rates[n]).reshape(-1))
            for n, g in zip(names, grads))
        del grads
        grad, = torch.autograd.grad(along, leaf)
        return grad

    def _closed_form(self, index: int, leaf: Tensor, inputs: Tensor,
                     labels: Tensor, teacher_logits: Tensor,
                     params: Dict[str, Tensor], v: Dict[str, Tensor],
                     rates: Dict[str, float], valid: Tensor) -> Tensor:
        """``'forward_mode'`` and ``'finite_difference'``: the closed form
        with every item's directional derivative along ``u = v r / max(r)``
        (``v`` is consumed: scaled in place)."""
        name = self.students[index]
        top = max(rates.values(), default=0.0)
        direction = {n: v.pop(n).mul_(rates[n] / top)
                     for n in list(v)} if top else {}
        if self.hypergrad == 'forward_mode':
            d_ce, d_kl = self._forward_mode(name, params, direction, inputs,
                                            labels, teacher_logits)
        else:
            # Only the finite difference's step needs |u| (and u != 0).
            norm = math.sqrt(
                sum(float(d.pow(2).sum()) for d in direction.values()))
            if norm == 0:
                return torch.zeros_like(leaf)
            d_ce, d_kl = self._finite_difference(name, params, direction,
                                                 self.fd_eps / norm, inputs,
                                                 labels, teacher_logits)
        g_alpha, g_beta = lookahead_weight_grads(d_ce, d_kl, top, self.tau,
                                                 float(valid.sum()))
        # sum_b alpha[b] g_alpha[b] + beta[b] g_beta[b] over the valid
        # items, with the weights resized to the grid as in the loss: its
        # gradient carries G back through that resize to ``leaf``.
        alpha, beta = leaf[:, 2 * index], leaf[:, 2 * index + 1]
        pulled = mcdistil_weighted_losses(g_alpha, g_beta, alpha, beta,
                                          valid, 1.0)
        count = valid.sum().clamp(min=1)
        grad, = torch.autograd.grad(sum(pulled) * count, leaf)
        return grad

    @torch.no_grad()
    def _forward_mode(self, name: str, params: Dict[str, Tensor],
                      direction: Dict[str, Tensor], inputs: Tensor,
                      labels: Tensor,
                      teacher_logits: Tensor) -> Tuple[Tensor, Tensor]:
        """Every item's ``<direction, grad_theta ce>`` and ``<direction,
        grad_theta kl>``, exactly: one forward of the student with the
        tangents ``direction`` (forward-mode AD; no graph is kept)."""
        with fwAD.dual_level():
            duals = {
                n: fwAD.make_dual(params[n].detach(), d)
                for n, d in direction.items()
            }
            ce, kl, _ = mcdistil_item_losses(
                self._logits(name, dict(params, **duals), inputs),
                teacher_logits, labels, self.tau, self.ignore_index)
            tangents = [fwAD.unpack_dual(item).tangent for item in (ce, kl)]
        return tuple(
            torch.zeros_like(item) if tangent is None else tangent
            for item, tangent in zip((ce, kl), tangents))

    @torch.no_grad()
    def _finite_difference(self, name: str, params: Dict[str, Tensor],
                           direction: Dict[str, Tensor], eps: float,
                           inputs: Tensor, labels: Tensor,
                           teacher_logits: Tensor) -> Tuple[Tensor, Tensor]:
        """Every item's directional derivatives of ce and kl along
        ``direction``, by central differences from two forwards at
        ``theta +- eps direction`` (without a graph, so in
        :func:`graph_free_layout`)."""
        inputs = graph_free_layout(inputs)
        items = []
        for sign in (1.0, -1.0):
            shifted = {
                n: params[n] + sign * eps * d for n, d in direction.items()
            }
            items.append(
                mcdistil_item_losses(
                    self._logits(name, dict(params, **shifted), inputs),
                    teacher_logits, labels, self.tau, self.ignore_index))
        return ((items[0][0] - items[1][0]) / (2 * eps),
                (items[0][1] - items[1][1]) / (2 * eps))

    @staticmethod
    def _buffer(optimizer: torch.optim.Optimizer,
                param: Tensor) -> Optional[Tensor]:
        """The momentum buffer of ``param``, None when absent (read
        without adding an entry to the optimizer's state)."""
        state = optimizer.state.get(param)
        return None if state is None else state.get('momentum_buffer')

    def _groups_of(self, name: str, params: Dict[str, Tensor],
                   optimizer: torch.optim.Optimizer) -> Dict[str, dict]:
        """The SGD parameter group of every trained parameter of a
        student, by parameter name."""
        if not isinstance(optimizer, torch.optim.SGD):
            raise TypeError(
                f'optim_wrapper.{name}.optimizer: MC-Distil\'s look-ahead '
                f'is an SGD step, got {type(optimizer).__name__}.')
        group_of = {
            id(p): group
            for group in optimizer.param_groups for p in group['params']
        }
        groups = {
            n: group_of[id(p)]
            for n, p in params.items() if p.requires_grad and id(p) in group_of
        }
        if any(group.get('maximize') for group in groups.values()):
            raise ValueError(f'optim_wrapper.{name}.optimizer: maximize=True'
                             ' is not a descent step; remove it.')
        return groups

    def _lookahead(self, optimizer: torch.optim.Optimizer,
                   groups: Dict[str, dict], trained: List[str],
                   params: Dict[str, Tensor],
                   grads: Dict[str, Optional[Tensor]]) -> Dict[str, Tensor]:
        """:func:`sgd_lookahead` of every parameter group, by name."""
        stepped: Dict[str, Tensor] = {}
        for group in optimizer.param_groups:
            names = [n for n in trained if groups[n] is group]
            if not names:
                continue
            new = sgd_lookahead([params[n] for n in names],
                                [grads[n] for n in names],
                                [self._buffer(optimizer, params[n])
                                 for n in names], group['lr'],
                                group['momentum'], group['dampening'],
                                group['weight_decay'], group['nesterov'])
            stepped.update(zip(names, new))
        return stepped

    def _logits(self, name: str, params: Dict[str, Tensor],
                inputs: Tensor) -> Tensor:
        """A student's recorded logits with the parameters ``params`` and
        cloned buffers (its own stay untouched)."""
        student = unwrap(self.peer(name))
        tensors = dict(params)
        tensors.update(
            {n: b.clone()
             for n, b in student.named_buffers()})
        distiller = unwrap(self.distiller)
        with distiller.recording(name):
            functional_call(student, tensors, (inputs, ), dict(mode='tensor'))
        logits = self.record_logits(name, LOGITS)
        # The records would keep this call's graph, and with it the
        # look-ahead's leaves, alive until the student's next forward.
        distiller.forget(name)
        return logits

    def _held_out_loss(self, name: str, params: Dict[str, Tensor],
                       inputs: Tensor, labels: Tensor) -> Tensor:
        """Mean CE of a student with ``params`` on the held-out batch,
        over its items (dense labels resized to the logits grid)."""
        logits = self._logits(name, params, inputs)
        labels = resize_labels(labels, logits)
        valid = valid_items(labels, self.ignore_index, logits)
        if valid is None:
            return F.cross_entropy(logits, labels)
        safe = torch.where(valid, labels, torch.zeros_like(labels))
        ce = F.cross_entropy(logits, safe, reduction='none')
        return (ce * valid).sum() / valid.sum().clamp(min=1)
