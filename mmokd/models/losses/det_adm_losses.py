"""ADM's terms on a detector's FPN levels and dense head (Chen et al.,
ICML 2025, Eq. 10, dense form)."""
from typing import Sequence

import torch
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
    scored by the head's own ``loss_cls`` with the arguments its loss
    passed in this step (targets, label weights or GFL's quality scores,
    ``avg_factor``). With ``A = 1`` it is the head's classification loss.
    RetinaNet, GFL, FCOS and RPN heads.

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
                module and the arguments its ``loss_cls`` received in this
                step).

        Returns:
            Tensor: ``loss_weight * loss``.
        """
        calls = head.targets.get('loss_cls_calls')
        if not calls:
            raise RuntimeError(
                f'DetADMClsLoss: the head "{head.head}" computed no '
                'classification loss in this step (a frozen peer?).')
        conv = getattr(head.module, self.classifier)
        rows = [
            F.conv2d(
                F.relu(feat) * attn.to(feat.dtype), conv.weight, conv.bias,
                conv.stride, conv.padding).permute(0, 2, 3, 1).reshape(
                    -1, head.num_logits)
            for feat, attn in zip(feats, attention)
        ]
        if len(calls) == 1:  # FCOS: all levels flattened, level first
            rows = [torch.cat(rows)]
        if len(calls) != len(rows):
            raise RuntimeError(
                f'DetADMClsLoss: the head called its loss_cls {len(calls)} '
                f'times for {len(rows)} levels.')
        total = rows[0].new_zeros(())
        for scores, (args, kwargs) in zip(rows, calls):
            total = total + head.module.loss_cls(scores, *args, **kwargs)
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
