"""The online distillation algorithm: N peers trained together."""
from contextlib import ExitStack
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import Tensor, nn

from mmokd.registry import MODELS
from ..builders.num_classes import (preprocessor_with_num_classes,
                                    with_num_classes)
from ..tasks import BaseTask
from ..utils import (BatchNormFolding, LossDict, build_nonfinite_guard,
                     config_field, unwrap)
from .base import PeerAlgorithm


def add_prefix(values: dict, prefix: str) -> dict:
    """Returns ``values`` with every key prefixed by ``'{prefix}.'``."""
    return {f'{prefix}.{key}': value for key, value in values.items()}


@MODELS.register_module()
class OnlineDistill(PeerAlgorithm):
    """Trains several networks ("peers") together, each learning from the
    others, as in online knowledge distillation.

    Every peer is a direct child module named by its key in ``peers`` and
    is trained: BatchNorm stays in train mode, and each peer has its own
    optimizer and LR schedule when ``optim_wrapper`` is an
    :class:`OptimWrapperDict` built by ``mmokd.PeerOptimWrapperConstructor``
    (one key per peer), or all share one optimizer otherwise. A peer's loss
    is its own task loss plus the distill terms it owns
    (:class:`OnlineDistiller`); the terms never carry gradient into other
    peers.

    Validation evaluates ``eval_peer`` (set by
    ``mmokd.OnlineDistillValLoop`` / ``OnlineDistillTestLoop``), by default
    the student. Checkpoints hold each peer under ``{peer}.`` with no
    ``.module.`` from DDP wrappers.

    Args:
        peers (dict): ``{name: network cfg}``; insertion order is kept.
        distiller (dict): Config of :class:`OnlineDistiller`.
        student (str): Name of the network that is deployed: evaluated
            without prefix, exported by default. Defaults to ``'student'``.
        data_preprocessor (dict | nn.Module, optional): Shared
            preprocessor. Defaults to the student's own; an untyped dict
            (as in mmpretrain dataset configs) takes the type of the
            student's.
        frozen_peers (list[str]): Peers that are not trained (offline KD,
            e.g. a pretrained teacher loaded through its ``init_cfg``): no
            gradient, BatchNorm in eval mode, a ``'tensor'`` forward under
            ``no_grad`` for their records, with their BN layers folded into
            the convolutions before them (:class:`BatchNormFolding`), no
            optimizer, no losses.
        num_classes (int, optional): Class count of every network, written
            into each peer's heads and the data preprocessor before they
            are built (:func:`with_num_classes`): one field, e.g.
            ``--cfg-options model.num_classes=10``, for a dataset of
            another size. Defaults to None (the peers' own counts).
        task (dict | BaseTask, optional): The task adapter
            (``dict(type='mmokd.ClsTask')`` / ``'mmokd.SegTask'``) that
            reads labels and checks logits for every distill term.
            Defaults to None: the student's (:func:`task_of`).
        nonfinite_guard (dict, optional): Config of
            :class:`~mmokd.models.utils.NonFiniteGuard`, which stops
            training (``policy='stop'``) or skips the update
            (``policy='skip'``) at a non-finite loss, before any optimizer
            step. Defaults to ``dict(policy='stop')``.
        init_cfg (dict, optional): Initialisation config.
    """

    #: Tensors a method computes once per step for several distill terms
    #: (:meth:`step_data`), routed as ``dict(data=name)``.
    step_data_names: Tuple[str, ...] = ()

    def __init__(self,
                 peers: Dict[str, dict],
                 distiller: dict,
                 student: str = 'student',
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 frozen_peers: Sequence[str] = (),
                 nonfinite_guard: Optional[dict] = None,
                 num_classes: Optional[int] = None,
                 task: Optional[Union[dict, BaseTask]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if student not in peers:
            raise ValueError(
                f'model.student: "{student}" is not one of model.peers '
                f'{list(peers)}; name the deployed network.')
        if len(peers) < 2:
            raise ValueError('model.peers: online distillation needs at '
                             f'least two networks, got {list(peers)}.')
        built = {
            name: self._build_peer(
                name,
                with_num_classes(cfg, num_classes, f'model.peers.{name}'))
            for name, cfg in peers.items()
        }
        super().__init__(
            data_preprocessor=self.shared_preprocessor(
                preprocessor_with_num_classes(data_preprocessor,
                                              num_classes), built[student]),
            init_cfg=init_cfg)
        unknown = set(frozen_peers) - set(peers)
        if unknown or student in frozen_peers:
            raise ValueError(
                f'model.frozen_peers: {sorted(frozen_peers)} must name '
                f'peers of model.peers {list(peers)} other than the '
                'student.')
        for name, network in built.items():
            self.add_module(name, network)
        self._setup_peers(built, student, task, frozen_peers)
        for name in self.frozen_peers:
            built[name].requires_grad_(False)
        self._foldings: Dict[str, BatchNormFolding] = {}
        self.check_class_counts()
        with config_field('model.distiller'):
            self.distiller = MODELS.build(distiller)
        self.nonfinite_guard = build_nonfinite_guard(nonfinite_guard)
        self.distiller.prepare(
            built, task=self.task, step_data_names=self.step_data_names)
        owners_frozen = set(self.distiller.losses) & set(self.frozen_peers)
        if owners_frozen:
            raise ValueError(
                f'model.distiller.losses: {sorted(owners_frozen)} are frozen '
                'and cannot own loss terms (they are not trained).')
        views = getattr(self.data_preprocessor, 'num_views', None)
        # num_views=1: every network gets the same view (e.g. KDCL + ADM).
        if views is not None and views not in (1, len(self.peer_names)):
            raise ValueError(
                f'model.data_preprocessor.num_views: {views} views for '
                f'{len(self.peer_names)} networks {self.peer_names}; each '
                'network takes its own view, set num_views (and the '
                f'pipeline\'s num_views) to {len(self.peer_names)}, or to '
                '1 to share one view.')

    @staticmethod
    def _build_peer(name: str, cfg: Union[dict, nn.Module]) -> nn.Module:
        """Builds one peer, rejecting names that clash with attributes."""
        if not name.isidentifier() or name in ('distiller',
                                               'data_preprocessor'):
            raise ValueError(
                f'model.peers.{name}: a peer name must be a Python '
                'identifier other than "distiller" / "data_preprocessor".')
        return cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)

    def train(self, mode: bool = True) -> 'OnlineDistill':
        """Sets train / eval mode; frozen peers always stay in eval."""
        super().train(mode)
        for name in self.frozen_peers:
            self.peer(name).eval()
        return self

    def record(self, peer: str, recorder: str) -> Tensor:
        """What ``peer``'s recorder ``recorder`` recorded in this step
        (e.g. ``'logits'``, which DML, SwitOKD and KDCL set up)."""
        recorders = unwrap(self.distiller).recorders[peer]
        return recorders.get_recorder(recorder).get_record_data()

    def record_logits(self, peer: str, recorder: str) -> Tensor:
        """:meth:`record`, checked to be logits of the algorithm's task.

        Args:
            peer (str): Peer name.
            recorder (str): Recorder name (e.g. ``LOGITS``).

        Returns:
            Tensor: The recorded logits.
        """
        logits = self.record(peer, recorder)
        unwrap(self.distiller).check_logits(
            logits, dict(peer=peer, recorder=recorder))
        return logits

    def peer_inputs(
            self, inputs: Union[Tensor,
                                Sequence[Tensor]]) -> Dict[str, Tensor]:
        """Each peer's input: the shared batch, or, when ``inputs`` is a
        list (one augmented view per peer, in peer order, e.g. KDCL), the
        peer's own view.

        Args:
            inputs (Tensor | list[Tensor]): Preprocessed batch or views.

        Returns:
            dict: ``{peer: input}``.
        """
        if isinstance(inputs, Tensor):
            return {name: inputs for name in self.peer_names}
        if len(inputs) != len(self.peer_names):
            raise ValueError(
                f'OnlineDistill: got {len(inputs)} views per sample for '
                f'{len(self.peer_names)} peers {self.peer_names}; set the '
                'pipeline\'s MultiView num_views (and the data '
                'preprocessor\'s num_views) to the number of peers.')
        return dict(zip(self.peer_names, inputs))

    def step_data(self, data_samples: list) -> Dict[str, Tensor]:
        """Tensors computed once per step from the recorded outputs and
        shared by several distill terms (``step_data_names``); none here.

        Args:
            data_samples (list): The batch's data samples.

        Returns:
            dict: ``{name: tensor}``.
        """
        return {}

    def peer_losses(self, inputs: Union[Tensor, Sequence[Tensor]],
                    data_samples: list) -> Dict[str, LossDict]:
        """Every peer's task losses plus the distill terms it owns.

        Args:
            inputs (Tensor | list[Tensor]): Preprocessed batch, or one view
                per peer in peer order (see :meth:`peer_inputs`).
            data_samples (list): The batch's data samples.

        Returns:
            dict: ``{peer: {loss name: value}}``; a task loss named just
            ``'loss'`` is renamed ``'loss_task'``.
        """
        distiller = unwrap(self.distiller)
        views = self.peer_inputs(inputs)
        losses: Dict[str, LossDict] = {}
        for name in self.peer_names:
            if name in self.frozen_peers:
                self.record_frozen_peer(name, views[name], data_samples)
                losses[name] = {}
                continue
            with distiller.recording(name):
                task = self.peer(name)(views[name], data_samples, mode='loss')
            # A bare 'loss' (mmpretrain heads) would be hidden by the
            # peer's total of the same name in the logs.
            losses[name] = {
                ('loss_task' if key == 'loss' else key): value
                for key, value in task.items()
            }
        step_data = self.step_data(data_samples)
        for owner, terms in self.distiller(data_samples, step_data).items():
            clash = set(terms) & set(losses[owner])
            if clash:
                raise ValueError(
                    f'model.distiller.losses.{owner}: {sorted(clash)} '
                    'clash with the task losses of that peer; rename them.')
            losses[owner].update(terms)
        return losses

    def record_frozen_peer(self, name: str, inputs: Tensor,
                           data_samples: list) -> None:
        """Runs frozen peer ``name`` for its records: a ``'tensor'``
        forward under ``no_grad`` with its BN layers folded
        (:meth:`batch_norm_folding`), no losses.

        Args:
            name (str): A frozen peer.
            inputs (Tensor): Its input.
            data_samples (list): The batch's data samples.
        """
        network = self.peer(name)

        def forward():
            return network(inputs, data_samples, mode='tensor')

        with torch.no_grad(), self.batch_norm_folding(name).folded(forward):
            with unwrap(self.distiller).recording(name):
                forward()

    def batch_norm_folding(self, name: str) -> BatchNormFolding:
        """The BN folding of frozen peer ``name``, made on first use (and
        again if the peer's network was replaced, e.g. wrapped).

        Args:
            name (str): A frozen peer.

        Returns:
            BatchNormFolding: Its folding.
        """
        network = unwrap(self.peer(name))
        folding = self._foldings.get(name)
        if folding is None or folding.network is not network:
            folding = self._foldings[name] = BatchNormFolding(network, name)
        return folding

    def loss(self, inputs: Tensor, data_samples: list) -> LossDict:
        """All peers' losses in one dict, keys prefixed by the peer name.

        Used with a single optimizer over every peer.
        """
        return self._merge(self.peer_losses(inputs, data_samples))

    @staticmethod
    def _merge(losses: Dict[str, LossDict]) -> LossDict:
        """``{peer: {term: value}}`` as one dict of ``peer.term`` keys."""
        merged: LossDict = {}
        for name, peer_losses in losses.items():
            merged.update(add_prefix(peer_losses, name))
        return merged

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``'loss'``: every peer's losses; otherwise ``eval_peer``'s
        ``'predict'`` / ``'tensor'`` output."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.peer(self.eval_peer)(inputs, data_samples, mode=mode)

    def train_step(
        self, data: Union[dict, tuple, list],
        optim_wrapper: Union[OptimWrapper,
                             OptimWrapperDict]) -> Dict[str, Tensor]:
        """One training iteration of every peer.

        With an :class:`OptimWrapperDict`, each peer's summed loss is
        back-propagated and stepped with that peer's own optimizer. The
        non-finite guard checks the losses before any update (and may
        stop training or leave peers out) and the weights after it.

        Args:
            data (dict | tuple | list): A batch from the dataloader.
            optim_wrapper (OptimWrapper | OptimWrapperDict): One wrapper for
                all peers, or one per peer keyed by peer name.

        Returns:
            dict: Log variables, ``{peer}.{loss name}`` plus each peer's
            total ``{peer}.loss`` and their sum ``loss``.
        """
        guard = self.nonfinite_guard
        trained = {name: self.peer(name) for name in self.trainable_peers}
        saved = guard.save_buffers(trained)
        if not isinstance(optim_wrapper, OptimWrapperDict):
            # BaseModel.train_step, guarded.
            with optim_wrapper.optim_context(self):
                data = self.data_preprocessor(data, True)
                losses = self.peer_losses(**data)
            skipped = guard.check_losses(losses, saved, trained)
            total, log_vars = self.parse_losses(self._merge(losses))
            if not skipped:
                optim_wrapper.update_params(total)
            guard.check_weights(dict(trained, distiller=self.distiller))
            return log_vars
        self.check_optim_keys(optim_wrapper)
        with ExitStack() as stack:
            for name in self.trainable_peers:
                stack.enter_context(optim_wrapper[name].optim_context(
                    self.peer(name)))
            data = self.data_preprocessor(data, True)
            losses = self.peer_losses(**data)
        log_vars: Dict[str, Tensor] = {}
        self.reweight_losses(losses, data['data_samples'], log_vars)
        updated = self.peers_to_update()
        skipped = guard.check_losses(losses, saved, trained)
        parsed = {}
        for name in self.trainable_peers:
            parsed[name], peer_log = self.parse_losses(losses[name])
            log_vars.update(add_prefix(peer_log, name))
        log_vars['loss'] = sum(parsed.values())
        for name in self.trainable_peers:
            if name in updated and name not in skipped:
                optim_wrapper[name].update_params(parsed[name])
        guard.check_weights(dict(trained, distiller=self.distiller))
        return log_vars

    def reweight_losses(self, losses: Dict[str, LossDict],
                        data_samples: list,
                        log_vars: Dict[str, Tensor]) -> None:
        """Scales terms in place before they are summed, and takes the
        step's decisions :meth:`peers_to_update` reports; nothing here.
        SwitOKD decides each pair's mode and zeroes terms. Decisions must
        be identical on every rank.

        Args:
            losses (dict): ``{peer: {loss name: value}}`` of this step.
            data_samples (list): The batch's data samples.
            log_vars (dict): Log variables; a method may add its own.
        """

    def peers_to_update(self) -> List[str]:
        """The peers whose optimizer steps this iteration (after
        :meth:`reweight_losses`): all trained peers here.

        Returns:
            list[str]: Names of the peers to update.
        """
        return list(self.trainable_peers)

    def check_optim_keys(self, optim_wrapper: OptimWrapperDict) -> None:
        """Raises unless there is exactly one optimizer per module of
        :attr:`optimized_names`.

        Args:
            optim_wrapper (OptimWrapperDict): The runner's wrappers.
        """
        if set(optim_wrapper.keys()) != set(self.optimized_names):
            raise ValueError(
                f'optim_wrapper: keys {sorted(optim_wrapper.keys())} must '
                f'be {sorted(self.optimized_names)} (the trained peers, '
                'and the trained modules that are not peers), one '
                'optimizer each (constructor='
                '"mmokd.PeerOptimWrapperConstructor").')
