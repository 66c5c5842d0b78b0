"""Keeps every rank's random state and buffers in the checkpoints, so that
a resumed run repeats an uninterrupted one."""
import logging
from typing import Callable, List, Optional

from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator

from mmokd.models.utils import unwrap
from mmokd.registry import HOOKS
from mmokd.utils.random_state import get_random_state, set_random_state

STATES_KEY = 'rank_states'


def _warn(message: str) -> None:
    print_log(message, logger='current', level=logging.WARNING)


@HOOKS.register_module()
class RankStateHook(Hook):
    """Saves what differs between ranks in the checkpoints (random states,
    buffers) and restores each rank's own on resume.

    mmengine restores weights, optimizers, schedulers and the iteration as
    rank 0 saved them, but not the random generators, so dropout and
    random augmentation draw other numbers after a resume than in an
    uninterrupted run, and the other ranks get rank 0's buffers (BN
    statistics differ per rank when DDP does not broadcast buffers, as
    in the mmokd configs, and e.g. KDCL-General's all-reduced estimate
    uses every rank's). This hook makes a resumed run repeat the
    uninterrupted one exactly:

    * **Saved per rank.** When a checkpoint is due, every rank's random
      state (Python, numpy, torch CPU, CUDA: :func:`get_random_state`)
      and the buffers of ranks other than 0 are gathered, and rank 0
      writes the list to the checkpoint under ``rank_states``; on resume
      each rank restores its own entry (buffers after the weights are
      loaded).
    * **Restored where the run stopped.** ``IterBasedTrainLoop`` skips the
      trained batches by loading them again, which replays the
      augmentation of ``num_workers=0`` pipelines (main process) and of
      the workers (mmengine seeds them at every dataloader iterator from
      the seed, rank and worker id); the state is restored after that
      skip, right before the first new batch. Other loops restore it
      before training.
    * **Validation does not change it.** The random state is put back
      after each validation, as a resumed run does not repeat the
      validation that followed its checkpoint (a ``save_best`` checkpoint
      holds the state from before validation).
    * **Same data order.** With ``randomness.seed=None`` each run draws a
      new seed; mmengine resumes the checkpoint's seed only after the
      training dataloader was built with the new one, so the dataloader
      is rebuilt with the checkpoint's seed.

    Resumes that cannot be exact are warned about: a checkpoint without
    states, another number of processes, or an epoch-based loop resumed
    in the middle of an epoch or with persistent workers (their generators
    live in the worker processes).

    Example:
        >>> default_hooks = dict(
        ...     rank_state=dict(type='mmokd.RankStateHook'))
    """

    # Gathers before CheckpointHook (VERY_LOW) writes.
    priority = 'LOW'

    def __init__(self) -> None:
        self._due: Optional[List[dict]] = None
        self._before_val: Optional[List[dict]] = None
        self._resumed: Optional[dict] = None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Gathers the states when a checkpoint is due at this iteration.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch.
            data_batch (dict, optional): The batch.
            outputs (dict, optional): The step's outputs.
        """
        due = _checkpoint_due(runner, by_epoch=False)
        self._due = self._gather(runner) if due else None

    def after_train_epoch(self, runner) -> None:
        """Gathers the states when a checkpoint is due at this epoch.

        Args:
            runner (Runner): The runner.
        """
        due = _checkpoint_due(runner, by_epoch=True)
        self._due = self._gather(runner) if due else None

    def before_val(self, runner) -> None:
        """Keeps every rank's state from before validation.

        Args:
            runner (Runner): The runner.
        """
        self._before_val = self._gather(runner)

    def after_val(self, runner) -> None:
        """Puts back this rank's state from before validation.

        Args:
            runner (Runner): The runner.
        """
        if self._before_val is not None:
            set_random_state(self._before_val[get_rank()]['random'])
            self._before_val = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Adds the gathered states (rank 0 only saves).

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint being saved.
        """
        states = self._before_val or self._due
        if states is None and get_world_size() == 1:
            states = [dict(random=get_random_state(), buffers={})]
        if states is None:
            _warn('RankStateHook: the states of the other ranks were not '
                  'gathered for this checkpoint (saved outside '
                  'CheckpointHook\'s schedule); resuming it will not repeat '
                  'an uninterrupted run exactly.')
            return
        checkpoint[STATES_KEY] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Takes this rank's state of a resumed checkpoint.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        if not runner._resume:
            return
        states = checkpoint.get(STATES_KEY)
        if states is None:
            _warn('RankStateHook: the checkpoint holds no per-rank states '
                  '(it was saved without this hook); the resumed run will '
                  'not repeat an uninterrupted run exactly.')
        elif len(states) != get_world_size():
            _warn(f'RankStateHook: the checkpoint holds the states of '
                  f'{len(states)} processes, this run has '
                  f'{get_world_size()}; they are not restored.')
        else:
            self._resumed = dict(
                state=states[get_rank()],
                seed=checkpoint.get('meta', {}).get('seed'))

    def before_train(self, runner) -> None:
        """Restores this rank's buffers, and its random state after the
        batches the loop skips.

        Args:
            runner (Runner): The runner.
        """
        if self._resumed is None:
            return
        resumed, self._resumed = self._resumed, None
        buffers = resumed['state']['buffers']
        for name, buffer in unwrap(runner.model).named_buffers():
            if name in buffers:
                buffer.copy_(buffers[name])
        _use_seed(runner, resumed['seed'])
        loop = runner.train_loop
        restore = lambda: set_random_state(  # noqa: E731
            resumed['state']['random'])
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop, loop.iter, restore)
            return
        _warn_inexact_epoch_resume(runner)
        restore()

    @staticmethod
    def _gather(runner) -> List[dict]:
        """Every rank's random state and buffers (rank 0's are the
        checkpoint's), in rank order."""
        state = dict(random=get_random_state(), buffers={})
        if get_world_size() == 1:
            return [state]
        if get_rank() > 0:
            state['buffers'] = {
                name: buffer.detach().cpu().clone()
                for name, buffer in unwrap(runner.model).named_buffers()
            }
        return all_gather_object(state)


class _RestoreAfterSkip:
    """Stands in for ``IterBasedTrainLoop.dataloader_iterator``: hands out
    the ``skip`` batches the loop discards, then restores the random state
    before the first new batch and puts the loop's iterator back.

    Args:
        loop (IterBasedTrainLoop): The loop.
        skip (int): Batches the loop skips (its resumed iteration).
        restore (Callable): Restores the random state.
    """

    def __init__(self, loop: IterBasedTrainLoop, skip: int,
                 restore: Callable[[], None]) -> None:
        self._loop = loop
        self._iterator = loop.dataloader_iterator
        self._skip = skip
        self._restore = restore

    def __iter__(self) -> '_RestoreAfterSkip':
        return self

    def __next__(self):
        if self._skip == 0:
            self._restore()
            self._loop.dataloader_iterator = self._iterator
        self._skip -= 1
        return next(self._iterator)


def _checkpoint_due(runner, by_epoch: bool) -> bool:
    """Whether a ``CheckpointHook`` saves at the end of this iteration
    (``by_epoch=False``) or epoch (its own condition)."""
    for hook in runner.hooks:
        if not isinstance(hook, CheckpointHook) or hook.by_epoch != by_epoch:
            continue
        if by_epoch:
            every = hook.every_n_epochs(runner, hook.interval, hook.save_begin)
            last = hook.is_last_train_epoch(runner)
        else:
            every = hook.every_n_train_iters(runner, hook.interval,
                                             hook.save_begin)
            last = hook.is_last_train_iter(runner)
        if every or (hook.save_last and last):
            return True
    return False


def _use_seed(runner, seed: Optional[int]) -> None:
    """Rebuilds the training dataloader when its sampler was seeded with
    another seed than the resumed run's (``randomness.seed=None`` draws a
    new seed per run)."""
    loop = runner.train_loop
    sampler = getattr(loop.dataloader, 'sampler', None)
    if seed is None or getattr(sampler, 'seed', seed) == seed:
        return
    # The runner's own dataloader config and randomness settings.
    if runner._randomness_cfg.get('diff_rank_seed', False):
        _warn('RankStateHook: with randomness.diff_rank_seed=True the data '
              'order of the resumed run is drawn anew.')
        return
    runner.logger.info(f'RankStateHook: rebuilding the training dataloader '
                       f'with the resumed seed {seed}')
    loop.dataloader = runner.build_dataloader(
        runner._train_dataloader, seed=seed)
    if isinstance(loop, IterBasedTrainLoop):
        loop.dataloader_iterator = _InfiniteDataloaderIterator(loop.dataloader)


def _warn_inexact_epoch_resume(runner) -> None:
    """Warns when an epoch-based resume cannot repeat the data."""
    dataloader = runner.train_loop.dataloader
    if runner.iter != runner.epoch * len(dataloader):
        _warn('RankStateHook: the checkpoint was saved within an epoch; the '
              'loop starts that epoch again, so the resumed run differs '
              'from an uninterrupted one.')
    if getattr(dataloader, 'persistent_workers', False) and \
            dataloader.num_workers > 0:
        _warn('RankStateHook: persistent dataloader workers keep their random '
              'state across epochs and cannot be restored; set '
              'train_dataloader.persistent_workers=False for a resumed run '
              'that repeats an uninterrupted one exactly.')
