"""KDCL distillation loss (Guo et al., CVPR 2020)."""
from typing import Optional, Sequence, Union

from torch import Tensor, nn

from mmokd.registry import MODELS
from ..tasks import TaskTerm
from ..utils import check_integer, check_nonnegative, check_positive, field_of
from .functional import KDCL_STRATEGIES, dml_kl, kdcl_ensemble


@MODELS.register_module()
class KDCLLoss(TaskTerm, nn.Module):
    """One network's distillation term in KDCL.

    Guo et al., "Online Knowledge Distillation via Collaborative Learning",
    CVPR 2020: ``L_i = L_CE(z_i, y) + lambda * tau^2 * KL(p_t || p_i)``
    with ``p_t = softmax(z_t / tau)`` of the detached ensemble ``z_t``;
    this module is the second term for the learner ``i`` (``preds_S``).
    KL is averaged over samples, or over labelled pixels for segmentation
    (label ``ignore_index`` left out).

    ``preds_T`` is either the ensemble already computed (how
    :class:`mmokd.KDCL` routes it: once per step, shared by every network)
    or the list of all networks' logits, from which the ensemble is built
    here with ``strategy`` (:func:`kdcl_ensemble`).

    Config example::

        loss_kdcl=dict(type='mmokd.KDCLLoss', tau=1.0, loss_weight=1.0,
                       strategy='minlogit')

    Args:
        tau (float): Temperature. Defaults to 1.0 (ADM paper's re-runs).
        loss_weight (float): ``lambda``. Defaults to 1.0.
        strategy (str): Ensemble used when ``preds_T`` is a list, one of
            ``'naive'``, ``'linear'``, ``'minlogit'``, ``'general'``,
            ``'mean'``. Defaults to ``'minlogit'``.
        ignore_index (int): Label ignored in dense losses. Defaults to 255.
    """

    def __init__(self,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 strategy: str = 'minlogit',
                 ignore_index: int = 255) -> None:
        super().__init__()
        if strategy not in KDCL_STRATEGIES:
            raise ValueError(f'KDCLLoss.strategy must be one of '
                             f'{KDCL_STRATEGIES}, got "{strategy}".')
        self.tau = check_positive(tau, field_of(self, 'tau'))
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))
        self.strategy = strategy
        self.ignore_index = check_integer(ignore_index,
                                          field_of(self, 'ignore_index'))

    def forward(self,
                preds_S: Tensor,
                preds_T: Union[Tensor, Sequence[Tensor]],
                gt: Optional[Tensor] = None,
                weights: Optional[Tensor] = None) -> Tensor:
        """Computes the weighted distillation loss.

        Args:
            preds_S (Tensor): Learner logits ``(N, C[, H, W])``.
            preds_T (Tensor | list[Tensor]): The ensemble ``z_t``, or every
                network's logits to build it from.
            gt (Tensor, optional): Labels; required to build the ensemble
                and, for dense logits, to skip ``ignore_index`` pixels.
            weights (Tensor, optional): General-ensemble weights.

        Returns:
            Tensor: ``loss_weight * tau^2 * KL(p_t || p_S)``.
        """
        ignored = self.ignored_label()
        if not isinstance(preds_T, Tensor):
            if gt is None:
                raise ValueError('KDCLLoss: building the ensemble from the '
                                 'networks\' logits needs the labels (gt).')
            preds_T = kdcl_ensemble(preds_T, gt, self.strategy, ignored,
                                    weights)
        return self.loss_weight * dml_kl(preds_S, preds_T, self.tau, gt,
                                         ignored)
