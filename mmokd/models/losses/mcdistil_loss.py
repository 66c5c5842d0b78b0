"""MC-Distil's per-instance weighted student terms (Tambat et al., TMLR
2025)."""
from torch import Tensor, nn

from mmokd.registry import MODELS
from ..tasks import TaskTerm
from ..utils import check_integer, check_nonnegative, check_positive, field_of
from .functional import mcdistil_item_losses, mcdistil_weighted_losses

MCDISTIL_TERMS = ('ce', 'kd')


@MODELS.register_module()
class MCDistilLoss(TaskTerm, nn.Module):
    """One of a student's two C-Net-weighted terms in MC-Distil.

    Tambat, S, Ramakrishnan, Shenoy, "Unified Wisdom: Harnessing
    Collaborative Learning to Improve Efficacy of Knowledge Distillation",
    TMLR 2025, Sec. 3 (reference ``train_mcdistil.py``). Student ``i``
    (0-based ``index``) minimises::

        L_i = mean_b alpha_i[b] CE(z_i[b], y_b)
              + tau^2 mean_b beta_i[b] KL(p_T^tau[b] || p_i^tau[b]),
        alpha_i = w[:, 2i], beta_i = w[:, 2i + 1],

    with ``w`` the C-Net's weights of the step (no gradient here). This
    module is the first term (``term='ce'``, it replaces the head's CE) or
    the second (``term='kd'``, the teacher detached). Items are samples,
    or the pixels of the student's logits grid (labels resized by nearest
    neighbour, teacher and dense weights resized bilinearly); items
    labelled ``ignore_index`` are left out and means are over the others.

    Config example (student ``s_m``, the fifth of five)::

        loss_mc_kd=dict(type='mmokd.MCDistilLoss', term='kd', index=4,
                        tau=2.0)

    Args:
        term (str): ``'ce'`` or ``'kd'``.
        index (int): The student's 0-based position among the students.
        tau (float): Temperature. Defaults to 2.0 (the paper's).
        ignore_index (int): Label left out of dense tasks (the task
            decides, :class:`~mmokd.models.tasks.TaskTerm`). Defaults to
            255 (mmseg's).
        loss_weight (float): Scale of the term. Defaults to 1.0.
    """

    def __init__(self,
                 term: str,
                 index: int,
                 tau: float = 2.0,
                 ignore_index: int = 255,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if term not in MCDISTIL_TERMS:
            raise ValueError(f'{field_of(self, "term")} must be one of '
                             f'{list(MCDISTIL_TERMS)}, got {term!r}.')
        self.term = term
        self.index = check_integer(index, field_of(self, 'index'), 0)
        self.tau = check_positive(tau, field_of(self, 'tau'))
        self.ignore_index = check_integer(ignore_index,
                                          field_of(self, 'ignore_index'))
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))

    def forward(self, preds_S: Tensor, preds_T: Tensor, weights: Tensor,
                gt: Tensor) -> Tensor:
        """Computes the weighted term.

        Args:
            preds_S (Tensor): Student logits ``(N, C[, h, w])``.
            preds_T (Tensor): Teacher logits of the same layout.
            weights (Tensor): C-Net weights ``(N, 2k[, h', w'])``.
            gt (Tensor): ``(N,)`` labels or ``(N, H, W)`` maps.

        Returns:
            Tensor: ``loss_weight`` times the term.
        """
        column = 2 * self.index + (self.term == 'kd')
        if weights.shape[1] <= column:
            raise ValueError(
                f'MCDistilLoss: weights have {weights.shape[1]} channels; '
                f'student {self.index} needs channel {column} (the C-Net '
                'gives 2 per student, model.cnet.num_students).')
        weights = weights.detach()
        ce, kl, valid = mcdistil_item_losses(preds_S, preds_T, gt, self.tau,
                                             self.ignored_label())
        loss_ce, loss_kd = mcdistil_weighted_losses(
            ce, kl, weights[:, 2 * self.index], weights[:, 2 * self.index + 1],
            valid, self.tau)
        loss = loss_ce if self.term == 'ce' else loss_kd
        return loss if self.loss_weight == 1 else self.loss_weight * loss
