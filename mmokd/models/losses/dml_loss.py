"""Deep Mutual Learning loss (Zhang et al., CVPR 2018)."""
from typing import Optional, Sequence, Union

from torch import Tensor, nn

from mmokd.registry import MODELS
from ..tasks import TaskTerm
from ..utils import check_integer, check_nonnegative, check_positive, field_of
from .functional import dml_kl


@MODELS.register_module()
class DMLLoss(TaskTerm, nn.Module):
    """One network's mimicry loss in Deep Mutual Learning.

    Zhang, Xiang, Hospedales, Lu, "Deep Mutual Learning", CVPR 2018:
    ``L_k = L_CE(z_k, y) + lambda * tau^2 * mean_{j != k} KL(p_j || p_k)``;
    this module is the second term for one learner ``k`` (``preds_S``)
    and its peers (``preds_T``, detached). With more than two networks the
    terms are averaged (``peer_reduction='mean'``, the paper's cohort
    extension) or summed (``'sum'``, the authors' TensorFlow code).

    Segmentation logits are compared per pixel; pixels whose label is
    ``ignore_index`` are left out, and peers of another output size are
    resized bilinearly to the learner's size.

    Config example (the learner is the student)::

        loss_dml=dict(type='mmokd.DMLLoss', tau=1.0, loss_weight=1.0)

    Args:
        tau (float): Temperature. Defaults to 1.0 (ADM paper, Sec. 5.1).
        loss_weight (float): ``lambda``. Defaults to 1.0.
        ignore_index (int): Label ignored in dense losses. Defaults to 255.
        peer_reduction (str): ``'mean'`` or ``'sum'`` over peers.
    """

    def __init__(self,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255,
                 peer_reduction: str = 'mean') -> None:
        super().__init__()
        if peer_reduction not in ('mean', 'sum'):
            raise ValueError('DMLLoss.peer_reduction must be "mean" or '
                             f'"sum", got "{peer_reduction}".')
        self.tau = check_positive(tau, field_of(self, 'tau'))
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))
        self.ignore_index = check_integer(ignore_index,
                                          field_of(self, 'ignore_index'))
        self.peer_reduction = peer_reduction

    def forward(self,
                preds_S: Tensor,
                preds_T: Union[Tensor, Sequence[Tensor]],
                gt: Optional[Tensor] = None) -> Tensor:
        """Computes the weighted mimicry loss.

        Args:
            preds_S (Tensor): Learner logits ``(N, C[, H, W])``.
            preds_T (Tensor | list[Tensor]): One or several peers' logits.
            gt (Tensor, optional): Labels; for dense logits an
                ``(N, H, W)`` map whose ``ignore_index`` pixels are skipped.

        Returns:
            Tensor: ``loss_weight * loss``.
        """
        peers = [preds_T] if isinstance(preds_T, Tensor) else list(preds_T)
        ignored = self.ignored_label()
        terms = [dml_kl(preds_S, p, self.tau, gt, ignored) for p in peers]
        loss = sum(terms[1:], terms[0])
        scale = self.loss_weight
        if self.peer_reduction == 'mean':
            scale /= len(terms)
        return loss if scale == 1 else scale * loss
