"""Deep Mutual Learning on a two-stage detector's RoI head by RoI
cross-evaluation."""
from typing import Sequence, Union

from torch import Tensor

from mmokd.registry import MODELS
from ..tasks.det_task import RoIRecord
from .det_dml_loss import DetDMLLoss
from .functional import softmax_kl


@MODELS.register_module()
class DetRoIDMLLoss(DetDMLLoss):
    """One two-stage detector's RoI mimicry loss in Deep Mutual Learning.

    Zhang et al., "Deep Mutual Learning", CVPR 2018, Eq. 2, on RoIs: the
    learner ``k``'s sampled RoIs ``R_k`` (ground-truth boxes included)
    are pooled from each other peer ``j``'s recorded FPN maps and
    classified by ``j``'s box head without gradient, ``s_{j<-k}``; then
    ``lambda * tau^2 * mean_{r in R_k} KL(softmax(s_{j<-k,r} / tau) ||
    softmax(s_{k,r} / tau))`` over the ``C + 1`` classes, averaged over
    peers (``peer_reduction='mean'``) or summed. The peers' RoIs differ,
    so each learner is judged on its own proposals.

    Config example (Faster R-CNN, with ``mmokd.RoIHead`` recorders)::

        loss_dml_roi=dict(type='mmokd.DetRoIDMLLoss', tau=1.0,
                          loss_weight=1.0)

    Args:
        tau (float): Temperature. Defaults to 1.0.
        loss_weight (float): ``lambda``. Defaults to 1.0.
        peer_reduction (str): ``'mean'`` or ``'sum'`` over peers.
    """

    def forward(self, preds_S: RoIRecord,
                preds_T: Union[RoIRecord, Sequence[RoIRecord]]) -> Tensor:
        """Computes the weighted RoI mimicry loss.

        Args:
            preds_S (RoIRecord): The learner's RoIs and logits.
            preds_T (RoIRecord | list[RoIRecord]): One or several peers'
                RoI heads and FPN maps (no gradient reaches them).

        Returns:
            Tensor: ``loss_weight * loss``.
        """
        peers = [preds_T] if isinstance(preds_T, RoIRecord) else \
            list(preds_T)
        terms = [
            softmax_kl(preds_S.cls_score, peer.classify(preds_S.rois),
                       self.tau, dim=1).mean() * self.tau**2
            for peer in peers
        ]
        loss = sum(terms[1:], terms[0])
        scale = self.loss_weight
        if self.peer_reduction == 'mean':
            scale /= len(terms)
        return scale * loss
