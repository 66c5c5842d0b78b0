"""ADM's terms on a detector's FPN levels and dense head (Chen et al.,
ICML 2025, Eq. 10, dense form)."""
from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from mmokd.registry import MODELS
from ..tasks.det_task import DenseHeadRecord
from ..utils import check_nonnegative, field_of
from .functional import det_feature_mse, inside_positions


@MODELS.register_module()
class DetADMClsLoss(nn.Module):
    """ADM's attended classification term on a dense detection head.

    Chen et al., ICML 2025, Eqs. 9-10: per FPN level ``l``, the head's
    own classifier conv (weight, bias, padding) re-applied to
    ``ReLU(H^l) * A^l`` (``H^l`` the classifier's input, ``A^l`` the
    consensus map for the student, the divergence map for the teacher),
    scored by the head's own classification loss with the targets, label
    weights and ``avg_factor`` its loss assigned in this step. With
    ``A = 1`` it is the head's classification loss. Anchor heads
    (RetinaNet; its focal loss) are supported.

    Config example (made by ``mmokd.DetADMDistiller``)::

        loss_adm_consensus=dict(type='mmokd.DetADMClsLoss',
                                loss_weight=0.2, classifier='retina_cls')

    Args:
        loss_weight (float): ``alpha`` (student) or ``beta`` (teacher).
        classifier (str): The classifier conv's name in the head.
    """

    def __init__(self, loss_weight: float, classifier: str) -> None:
        super().__init__()
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))
        self.classifier = classifier

    def forward(self, feats: Sequence[Tensor], attention: Sequence[Tensor],
                head: DenseHeadRecord) -> Tensor:
        """Computes the weighted attended classification loss.

        Args:
            feats (list[Tensor]): ``H^l``, the classifier's inputs per
                level.
            attention (list[Tensor]): ``(N, 1, H, W)`` maps per level.
            head (DenseHeadRecord): The same network's head record (its
                module and this step's targets).

        Returns:
            Tensor: ``loss_weight * loss``.
        """
        from mmdet.models.dense_heads import AnchorHead, GFLHead
        module = head.module
        if not isinstance(module, AnchorHead) or isinstance(module, GFLHead):
            raise TypeError(
                f'DetADMClsLoss: {type(module).__name__} is not supported; '
                'the attended term reuses anchor heads\' classification '
                'loss (RetinaNet, RPN).')
        if 'labels' not in head.targets:
            head.target_rows()  # raises, naming the head
        conv = getattr(module, self.classifier)
        total = feats[0].new_zeros(())
        for feat, attn, labels, weights in zip(feats, attention,
                                               head.targets['labels'],
                                               head.targets['label_weights']):
            scores = F.conv2d(
                F.relu(feat) * attn.to(feat.dtype), conv.weight, conv.bias,
                conv.stride, conv.padding)
            rows = scores.permute(0, 2, 3, 1).reshape(-1, head.num_logits)
            total = total + module.loss_cls(
                rows, labels.reshape(-1), weights.reshape(-1),
                avg_factor=head.targets['avg_factor'])
        return self.loss_weight * total


@MODELS.register_module()
class DetADMFeatureLoss(nn.Module):
    """ADM's feature term on FPN levels: ``gamma * (1 / L) * sum_l
    MSE(phi(F_s^l), F_t^l)`` inside the image
    (:func:`~mmokd.models.losses.functional.det_feature_mse`).

    Config example (made by ``mmokd.DetADMDistiller``)::

        loss_adm_feature=dict(type='mmokd.DetADMFeatureLoss',
                              loss_weight=0.01)

    Args:
        loss_weight (float): ``gamma``.
    """

    def __init__(self, loss_weight: float) -> None:
        super().__init__()
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))

    def forward(self, feats_s: Sequence[Tensor], feats_t: Sequence[Tensor],
                head: DenseHeadRecord) -> Tensor:
        """Computes the weighted feature loss.

        Args:
            feats_s (list[Tensor]): Adapted student maps per level.
            feats_t (list[Tensor]): Teacher maps per level.
            head (DenseHeadRecord): The student's head record (which
                positions lie inside the image).

        Returns:
            Tensor: ``loss_weight * loss``.
        """
        inside = [
            inside_positions(mask, feat.shape)
            for mask, feat in zip(head.valid, feats_s)
        ]
        return self.loss_weight * det_feature_mse(feats_s, feats_t, inside)
