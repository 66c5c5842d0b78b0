"""One optimizer wrapper per trained module of a peer algorithm."""
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
    """Builds an :class:`OptimWrapperDict` with one wrapper per trained
    module: each of the algorithm's ``optimized_names``
    (:class:`~mmokd.models.algorithms.base.PeerAlgorithm`), i.e. its
    trained peers and any trained module that is not a peer (e.g.
    MC-Distil's ``cnet``).

    Each key of the config names such a module (a direct child of the
    algorithm) and holds a complete optimizer wrapper config for it,
    including its own ``paramwise_cfg``; DDP wrappers around the
    algorithm or the peers are looked through, so ``custom_keys`` match the
    module's own parameter names.
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
            OptimWrapperDict: ``{name: OptimWrapper}``.
        """
        algorithm = unwrap(model)
        names = list(getattr(algorithm, 'optimized_names', []))
        keys = list(self.optim_wrapper_cfg)
        if sorted(keys) != sorted(names):
            raise ValueError(
                f'optim_wrapper: keys {sorted(keys)} must be exactly '
                f'{sorted(names)} (the trained peers, and the trained '
                'modules that are not peers), one optimizer config each.')
        distiller = getattr(algorithm, 'distiller', None)
        connectors = unwrap(distiller).connectors if distiller else {}
        wrappers = {}
        for name in names:
            cfg = dict(self.optim_wrapper_cfg[name])
            paramwise_cfg = cfg.pop('paramwise_cfg', None)
            module = algorithm.optimized_module(name)
            if name in connectors:
                module = _PeerWithConnectors(module, connectors[name])
            wrappers[name] = DefaultOptimWrapperConstructor(
                cfg, paramwise_cfg)(
                    module)
        return OptimWrapperDict(**wrappers)
