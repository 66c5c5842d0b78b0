"""The contract every mmokd algorithm meets: several named networks."""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModel, is_model_wrapper
from torch import Tensor, nn

from ..tasks import BaseTask, task_of
from ..utils import unwrap
from .wrapped_peer_keys import load_into_wrapped_peers


class PeerAlgorithm(BaseModel):
    """Several networks ("peers") in one model, one of them deployed.

    The validation and test loops (``mmokd.OnlineDistillValLoop``,
    ``OnlineDistillTestLoop``), :class:`~mmokd.engine.ExportPeerHook`,
    ``tools/export_peer.py``, the optimizer constructor
    (``mmokd.PeerOptimWrapperConstructor``) and the resume checks read an
    algorithm only through the attributes and methods below.

    Attributes:
        peer_names (list[str]): Every network, in config order.
        student_name (str): The deployed network: evaluated without a
            prefix, exported by default.
        trainable_peers (list[str]): Peers that learn.
        frozen_peers (list[str]): Peers that never learn (e.g. a
            pretrained teacher).
        eval_peer (str): The peer that ``'predict'`` / ``'tensor'``
            forwards use (see :meth:`evaluating`).
        task (BaseTask): What the networks do (classification,
            segmentation), resolved once when the algorithm is built.

    A subclass builds its networks, calls ``super().__init__`` and then
    :meth:`_setup_peers`.

    Args:
        data_preprocessor (dict | nn.Module, optional): The preprocessor
            applied once for every peer.
        init_cfg (dict, optional): Initialisation config.
    """

    #: Trainable child modules that are not peers but own an optimizer
    #: (``optim_wrapper.<name>``), e.g. MC-Distil's coordinator network.
    extra_optimized_names: Tuple[str, ...] = ()

    def _setup_peers(self,
                     peer_names: Sequence[str],
                     student: str,
                     task: Union[BaseTask, dict, None],
                     frozen_peers: Sequence[str] = ()) -> None:
        """Records the peers, resolves the task and keeps checkpoint keys
        free of DDP's ``.module.``.

        Args:
            peer_names (list[str]): Every network's name.
            student (str): The deployed network.
            task (BaseTask | dict, optional): The ``task`` field; None
                reads it from the student (:func:`task_of`).
            frozen_peers (list[str]): Peers that never learn.
        """
        self.peer_names: List[str] = list(peer_names)
        self.student_name = student
        self.eval_peer = student
        self.frozen_peers = [n for n in self.peer_names if n in frozen_peers]
        self.trainable_peers = [
            n for n in self.peer_names if n not in frozen_peers
        ]
        self.task = task_of(self.peer(student), task)
        self._register_state_dict_hook(self._strip_wrapper_keys)
        self._register_load_state_dict_pre_hook(
            load_into_wrapped_peers, with_module=True)

    @property
    def optimized_names(self) -> List[str]:
        """Child modules that own an optimizer, in order: the trainable
        peers, then :attr:`extra_optimized_names`.

        Returns:
            list[str]: Keys of ``optim_wrapper`` under
            ``mmokd.PeerOptimWrapperConstructor``.
        """
        return list(self.trainable_peers) + list(self.extra_optimized_names)

    def optimized_module(self, name: str) -> nn.Module:
        """The module that optimizer ``name`` steps (not wrapped).

        Args:
            name (str): One of :attr:`optimized_names`.

        Returns:
            nn.Module: The peer or module.
        """
        return unwrap(self._modules[name])

    def peer(self, name: str) -> nn.Module:
        """The network computing peer ``name`` (possibly DDP-wrapped).

        Args:
            name (str): A peer name.

        Returns:
            nn.Module: The network.
        """
        self.check_peer(name)
        return self._modules[name]

    def check_peer(self, name: str) -> None:
        """Raises unless ``name`` is a peer.

        Args:
            name (str): A peer name.
        """
        if name not in self.peer_names:
            raise ValueError(f'Unknown peer "{name}"; the peers are '
                             f'{self.peer_names}.')

    def deployable_state_dict(self, peer: str) -> Dict[str, Tensor]:
        """Weights of ``peer`` as its plain network (what is exported).

        Args:
            peer (str): Peer name.

        Returns:
            dict: A state dict that loads with ``strict=True`` into the
            network the peer's config describes.
        """
        return unwrap(self.peer(peer)).state_dict()

    @contextmanager
    def evaluating(self, peer: str) -> Iterator[None]:
        """Makes ``predict`` / ``tensor`` forwards use ``peer``.

        Args:
            peer (str): Peer name.
        """
        self.check_peer(peer)
        previous, self.eval_peer = self.eval_peer, peer
        try:
            yield
        finally:
            self.eval_peer = previous

    def class_counts(self) -> Dict[str, Optional[int]]:
        """Every peer's number of classes, as the task reads it.

        Returns:
            dict: ``{peer: count or None}``.
        """
        return {
            name: self.task.num_classes(unwrap(self.peer(name)))
            for name in self.peer_names
        }

    def check_class_counts(self) -> None:
        """Raises if the peers predict different numbers of classes."""
        counts = self.class_counts()
        if len({c for c in counts.values() if c is not None}) > 1:
            raise ValueError(
                f'model.peers: the networks predict different numbers of '
                f'classes {counts}; set model.num_classes=N once (every '
                'peer\'s heads), or the same num_classes in every peer\'s '
                'head.')

    @staticmethod
    def shared_preprocessor(cfg: Optional[Union[dict, nn.Module]],
                            student: nn.Module) -> Union[dict, nn.Module]:
        """Chooses the preprocessor applied once for every peer: ``cfg``,
        by default the student's own; an untyped dict (as in mmpretrain
        dataset configs) takes the type of the student's.

        Args:
            cfg (dict | nn.Module, optional): The algorithm's
                ``data_preprocessor`` field.
            student (nn.Module): The deployed network.

        Returns:
            dict | nn.Module: What ``BaseModel`` builds the preprocessor
            from.
        """
        own = getattr(student, 'data_preprocessor', None)
        if cfg is None:
            return own if own is not None else dict()
        if isinstance(cfg, dict) and 'type' not in cfg and own is not None:
            return dict(cfg, type=type(own))
        return cfg

    @staticmethod
    def _strip_wrapper_keys(module: nn.Module, state_dict: dict, prefix: str,
                            local_metadata: dict) -> None:
        """Drops the ``.module.`` that DDP-wrapped children add to keys."""
        for name, child in module._modules.items():
            if not is_model_wrapper(child):
                continue
            old = f'{prefix}{name}.module.'
            for key in [k for k in state_dict if k.startswith(old)]:
                new_key = f'{prefix}{name}.' + key[len(old):]
                state_dict[new_key] = state_dict.pop(key)
