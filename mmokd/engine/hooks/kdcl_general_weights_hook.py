"""Estimates KDCL-General's ensemble weights on a held-out split."""
from typing import Optional

from mmengine.dist import all_reduce
from mmengine.hooks import Hook

from mmokd.models.losses.functional import perrone_cooper_weights
from mmokd.models.utils import (check_flag, check_integer, check_positive,
                                field_of, unwrap)
from mmokd.registry import HOOKS


@HOOKS.register_module()
class KDCLGeneralWeightsHook(Hook):
    """Refreshes ``model.general_weights`` of ``mmokd.KDCL`` (strategy
    ``'general'``) from held-out data.

    Guo et al., "Online Knowledge Distillation via Collaborative Learning",
    CVPR 2020, KDCL-General: after every ``interval`` epochs (or
    iterations with ``by_epoch=False``) every network predicts the
    held-out ``dataloader`` in eval mode, ``C_ij = mean_n (f_i - t) .
    (f_j - t)`` is formed from softmax probabilities ``f`` and one-hot
    labels ``t`` (sums all-reduced over ranks, so every rank gets the same
    weights) and ``w = C^-1 1 / 1^T C^-1 1`` (with ``eps * I`` added) is
    written to the algorithm's buffer, which checkpoints keep. Before the
    first estimate the weights are uniform. Runs before the checkpoint
    hook, so the checkpoint of an epoch holds the weights used next.

    Example (CIFAR-100, the last 5000 training images held out)::

        custom_hooks = [dict(
            type='mmokd.KDCLGeneralWeightsHook',
            dataloader=dict(
                batch_size=128, num_workers=2,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(type='mmokd.OfflineCIFAR100',
                             data_root='data/cifar100', split='train',
                             indices=-5000,
                             pipeline=[dict(type='PackInputs')])))]

    Args:
        dataloader (dict): Config of the held-out dataloader (built with
            ``Runner.build_dataloader``; a ``DefaultSampler`` shards it
            over ranks).
        eps (float): Ridge of the covariance. Defaults to 1e-6.
        interval (int): Estimate every ``interval`` epochs / iterations.
        by_epoch (bool): Count epochs (True) or iterations.
    """

    priority = 'NORMAL'

    def __init__(self,
                 dataloader: dict,
                 eps: float = 1e-6,
                 interval: int = 1,
                 by_epoch: bool = True) -> None:
        self.dataloader_cfg = dataloader
        self.eps = check_positive(eps, field_of(self, 'eps'))
        self.interval = check_integer(interval, field_of(self, 'interval'), 1)
        self.by_epoch = check_flag(by_epoch, field_of(self, 'by_epoch'))
        self.dataloader: Optional[object] = None

    def before_train(self, runner) -> None:
        """Checks the model and builds the held-out dataloader.

        Args:
            runner (Runner): The runner.

        Raises:
            ValueError: The model is not KDCL with the general strategy.
        """
        model = unwrap(runner.model)
        if getattr(model, 'ensemble_strategy', None) != 'general':
            raise ValueError(
                'custom_hooks: KDCLGeneralWeightsHook needs model.type='
                '"mmokd.KDCL" with model.ensemble_strategy="general"; '
                'remove the hook or change the strategy.')
        self.dataloader = runner.build_dataloader(
            self.dataloader_cfg, seed=runner.seed)

    def after_train_epoch(self, runner) -> None:
        """Estimates the weights every ``interval`` epochs.

        Args:
            runner (Runner): The runner.
        """
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            self.estimate(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Estimates the weights every ``interval`` iterations.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the epoch.
            data_batch (dict, optional): The batch.
            outputs (dict, optional): The step's outputs.
        """
        if not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            self.estimate(runner)

    def estimate(self, runner) -> None:
        """Runs every network on the held-out data and stores the weights.

        Args:
            runner (Runner): The runner.
        """
        model = unwrap(runner.model)
        model.eval()
        try:
            gram, count = model.held_out_error_gram(self.dataloader)
        finally:
            model.train()
        all_reduce(gram)
        all_reduce(count)
        weights = perrone_cooper_weights(gram / count.clamp(min=1), self.eps)
        model.general_weights.copy_(weights)
        runner.logger.info('KDCL-General weights ' + ', '.join(
            f'{name}={float(w):.4f}'
            for name, w in zip(model.peer_names, weights)))
