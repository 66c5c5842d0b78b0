"""Deep Mutual Learning on a dense detection head."""
from typing import Sequence, Union

from torch import Tensor, nn

from mmokd.registry import MODELS
from ..tasks.det_task import DenseHeadRecord
from ..utils import check_nonnegative, check_positive, field_of
from .functional import det_dml_kl


@MODELS.register_module()
class DetDMLLoss(nn.Module):
    """One detector's mimicry loss in Deep Mutual Learning.

    Zhang et al., "Deep Mutual Learning", CVPR 2018, Eq. 2, with each
    prior's class posterior in the place of an image's: for learner ``k``
    and each other peer ``j`` (detached),
    ``lambda * tau^2 / N_j * sum_{p valid} kl(z_{j,p} / tau ||
    z_{k,p} / tau)`` over every prior of every FPN level inside its image
    (:func:`~mmokd.models.losses.functional.det_dml_kl`): binary KL
    normalised by the target's soft foreground count for sigmoid heads,
    the mean KL over valid priors for softmax heads. Several peers are
    averaged (``peer_reduction='mean'``) or summed. Box regression is not
    distilled.

    The priors that count are the target record's ``valid`` ones: inside
    the image for a peer's record (DML); the assigned priors for KDCL's
    ensemble, which ``mmokd.KDCL`` routes here as a record. Both records
    must come from heads of the same prior layout (strides, priors per
    position, ``K``): the algorithms check this before training.

    Config example (DML on RetinaNet)::

        model = dict(type='mmokd.DML',
                     logits=dict(type='mmokd.DenseHead',
                                 source='bbox_head'),
                     dml_loss=dict(type='mmokd.DetDMLLoss', tau=1.0,
                                   loss_weight=1.0), ...)

    Args:
        tau (float): Temperature. Defaults to 1.0.
        loss_weight (float): ``lambda``. Defaults to 1.0.
        peer_reduction (str): ``'mean'`` or ``'sum'`` over peers.
    """

    def __init__(self,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 peer_reduction: str = 'mean') -> None:
        super().__init__()
        if peer_reduction not in ('mean', 'sum'):
            raise ValueError(f'{field_of(self, "peer_reduction")} must be '
                             f'"mean" or "sum", got "{peer_reduction}".')
        self.tau = check_positive(tau, field_of(self, 'tau'))
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))
        self.peer_reduction = peer_reduction

    def forward(
        self, preds_S: DenseHeadRecord,
        preds_T: Union[DenseHeadRecord, Sequence[DenseHeadRecord]]
    ) -> Tensor:
        """Computes the weighted mimicry loss.

        Args:
            preds_S (DenseHeadRecord): The learner's head outputs.
            preds_T (DenseHeadRecord | list[DenseHeadRecord]): One or
                several peers' (detached here).

        Returns:
            Tensor: ``loss_weight * loss``.
        """
        peers = [preds_T] if isinstance(preds_T, DenseHeadRecord) else \
            list(preds_T)
        terms = [
            det_dml_kl(preds_S.cls_scores, peer.cls_scores, peer.valid,
                       preds_S.num_logits, preds_S.activation, self.tau)
            for peer in peers
        ]
        loss = sum(terms[1:], terms[0])
        scale = self.loss_weight
        if self.peer_reduction == 'mean':
            scale /= len(terms)
        return scale * loss
