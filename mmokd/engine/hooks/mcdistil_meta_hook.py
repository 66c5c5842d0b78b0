"""Feeds MC-Distil's meta step: the held-out batches and the trigger."""
from typing import Optional

from mmengine.hooks import Hook

from mmokd.models.utils import unwrap
from mmokd.registry import HOOKS


@HOOKS.register_module()
class MCDistilMetaHook(Hook):
    """Gives ``mmokd.MCDistil`` its held-out dataloader and tells it when
    to take a meta step.

    Tambat et al., TMLR 2025 (reference ``train_mcdistil.py``): the C-Net
    steps on every ``L``-th mini-batch, ``(batch_idx + 1) % L == 0``,
    where ``batch_idx`` is the index within the epoch (epoch-based loops)
    or the global iteration (iteration-based loops); it depends on nothing
    else, so every rank triggers alike. The meta set is held out of the
    training data (``mmokd.RandomSplitDataset(part='held_out')``); its
    ``DefaultSampler`` pads it so that every rank gets as many batches.

    ``before_train`` builds the loader with
    ``runner.build_dataloader(cfg, seed=runner.seed)`` and hands it to the
    model, which cycles through it epoch after epoch (``set_epoch`` per
    pass). On resume (the buffer ``meta_steps`` restored) the iterator
    starts at sampler epoch ``meta_steps // len`` and skips
    ``meta_steps % len`` batches, so the resumed run sees the held-out
    batches of the uninterrupted one. The hook runs before
    ``mmokd.RankStateHook`` (priority ``NORMAL``), which restores the
    random state after that skip.

    Example:
        >>> custom_hooks = [dict(
        ...     type='mmokd.MCDistilMetaHook',
        ...     meta_dataloader=dict(batch_size=400, dataset=...,
        ...                          sampler=dict(type='DefaultSampler',
        ...                                       shuffle=True)))]

    Args:
        meta_dataloader (dict): Config of the held-out dataloader.
    """

    priority = 'NORMAL'

    def __init__(self, meta_dataloader: dict) -> None:
        self.meta_dataloader = meta_dataloader
        self._resumed_seed: Optional[int] = None

    @staticmethod
    def _algorithm(runner):
        """The unwrapped ``MCDistil`` of the runner."""
        model = unwrap(runner.model)
        if not hasattr(model, 'set_meta_batches'):
            raise TypeError(
                'custom_hooks: MCDistilMetaHook feeds mmokd.MCDistil, but '
                f'the model is {type(model).__name__}; remove the hook.')
        return model

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keeps a resumed checkpoint's seed: with ``randomness.seed=None``
        mmengine adopts it only after this hook has built its loader.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        if runner._resume:
            self._resumed_seed = checkpoint.get('meta', {}).get('seed')

    def before_train(self, runner) -> None:
        """Builds the meta dataloader (seeded as the resumed run was, if
        any) and hands it to the model.

        Args:
            runner (Runner): The runner.
        """
        seed = runner.seed if self._resumed_seed is None \
            else self._resumed_seed
        loader = runner.build_dataloader(self.meta_dataloader, seed=seed)
        self._algorithm(runner).set_meta_batches(loader)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Sets the trigger of this iteration.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the epoch (or the
                iteration for iteration-based loops).
            data_batch (dict, optional): The batch.
        """
        model = self._algorithm(runner)
        model.meta_triggered = (batch_idx + 1) % model.meta_interval == 0
