"""GPD's dynamic-teacher-to-student loss (Guo et al., ICLR 2025)."""
from typing import Optional

from torch import Tensor, nn

from mmokd.registry import MODELS
from ..tasks import TaskTerm
from ..utils import check_fraction, check_integer, check_nonnegative, field_of
from .functional import gpd_soft_cross_entropy


@MODELS.register_module()
class GPDSoftCELoss(TaskTerm, nn.Module):
    """Label-smoothed soft cross-entropy from the dynamic teacher.

    Guo et al., "Gap Preserving Distillation by Building Bidirectional
    Mappings with A Dynamic Teacher", ICLR 2025: the student mimics the
    detached logits of the dynamic teacher with weight 3.0 (paper, Sec. 4;
    authors' code ``--kd_loss_type sce --kd_ratio 3``), the target smoothed
    by 0.1: ``loss_weight * [0.9 H(p_D, p_S) + 0.1 mean_c(-log p_S)]``.
    Segmentation logits are compared per pixel, leaving out pixels labelled
    ``ignore_index``. See :func:`gpd_soft_cross_entropy`.

    Config example (``mmokd.GPD``'s default)::

        dt_loss=dict(type='mmokd.GPDSoftCELoss', loss_weight=3.0,
                     label_smoothing=0.1)

    Args:
        loss_weight (float): Weight of the term. Defaults to 3.0.
        label_smoothing (float): Smoothing of the dynamic teacher's
            probabilities. Defaults to 0.1.
        ignore_index (int): Label ignored in dense losses. Defaults to 255.
    """

    def __init__(self,
                 loss_weight: float = 3.0,
                 label_smoothing: float = 0.1,
                 ignore_index: int = 255) -> None:
        super().__init__()
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))
        self.label_smoothing = check_fraction(
            label_smoothing, field_of(self, 'label_smoothing'))
        self.ignore_index = check_integer(ignore_index,
                                          field_of(self, 'ignore_index'))

    def forward(self,
                preds_S: Tensor,
                preds_T: Tensor,
                gt: Optional[Tensor] = None) -> Tensor:
        """Computes the weighted term.

        Args:
            preds_S (Tensor): Student logits ``(N, C[, H, W])``.
            preds_T (Tensor): Dynamic-teacher logits, same shape; detached.
            gt (Tensor, optional): Labels; for dense logits an
                ``(N, H, W)`` map whose ``ignore_index`` pixels are skipped.

        Returns:
            Tensor: ``loss_weight * loss``.
        """
        return self.loss_weight * gpd_soft_cross_entropy(
            preds_S, preds_T, self.label_smoothing, self.ignored_label(), gt)
