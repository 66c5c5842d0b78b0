"""One optimizer wrapper per peer of an online distillation algorithm."""
from typing import Optional

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapperDict
from torch import nn

from mmokd.models.utils import unwrap
from mmokd.registry import OPTIM_WRAPPER_CONSTRUCTORS


class _PeerWithConnectors(nn.Module):
    """Groups a peer with its connectors for one optimizer; parameter names
    become ``peer.*`` and ``connectors.*``."""

    def __init__(self, peer: nn.Module, connectors: nn.Module) -> None:
        super().__init__()
        self.peer = peer
        self.connectors = connectors


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class PeerOptimWrapperConstructor:
    """Builds an :class:`OptimWrapperDict` with one wrapper per peer.

    Each key of the config names a peer (a direct child of the algorithm)
    and holds a complete optimizer wrapper config for it, including its own
    ``paramwise_cfg``; DDP wrappers around the algorithm or the peers are
    looked through, so ``custom_keys`` match the peer's own parameter names.
    The distiller's connectors of a peer (e.g. ADM's adapter) are optimised
    with that peer; ``paramwise_cfg`` then sees the names ``peer.*`` and
    ``connectors.*`` (``custom_keys`` match substrings, so ``'backbone'``
    still applies).

    Example:
        >>> sgd = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9,
        ...                           weight_decay=5e-4))
        >>> optim_wrapper = dict(
        ...     _delete_=True,
        ...     constructor='mmokd.PeerOptimWrapperConstructor',
        ...     student=sgd, teacher=sgd)

    Args:
        optim_wrapper_cfg (dict): ``{peer: optimizer wrapper cfg}``.
        paramwise_cfg (dict, optional): Must be None; put ``paramwise_cfg``
            inside each peer's config.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError(
                'optim_wrapper.paramwise_cfg: with '
                'mmokd.PeerOptimWrapperConstructor, put paramwise_cfg inside '
                'each peer\'s entry (optim_wrapper.<peer>.paramwise_cfg).')
        self.optim_wrapper_cfg = optim_wrapper_cfg

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        """Builds the wrappers.

        Args:
            model (nn.Module): The (possibly wrapped) algorithm.

        Returns:
            OptimWrapperDict: ``{peer: OptimWrapper}``.
        """
        algorithm = unwrap(model)
        peers = list(getattr(algorithm, 'trainable_peers', []))
        keys = list(self.optim_wrapper_cfg)
        if sorted(keys) != sorted(peers):
            raise ValueError(
                f'optim_wrapper: keys {sorted(keys)} must be exactly the '
                f'trained peers {sorted(peers)}, one optimizer config each.')
        distiller = unwrap(algorithm.distiller)
        wrappers = {}
        for name in peers:
            cfg = dict(self.optim_wrapper_cfg[name])
            paramwise_cfg = cfg.pop('paramwise_cfg', None)
            peer = unwrap(algorithm.peer(name))
            if name in distiller.connectors:
                peer = _PeerWithConnectors(peer, distiller.connectors[name])
            wrappers[name] = DefaultOptimWrapperConstructor(
                cfg, paramwise_cfg)(
                    peer)
        return OptimWrapperDict(**wrappers)
