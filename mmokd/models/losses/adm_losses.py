"""ADM losses (Chen et al., ICML 2025): consensus, divergence, features.

Chen et al., "Asymmetric Decision-Making in Online Knowledge Distillation:
Unifying Consensus and Divergence", ICML 2025. On top of a base online
method: ``L = L_base + gamma * L_feat + alpha * L_co + beta * L_di``.

Segmentation (beyond the paper, which reports Cityscapes results in Table 5
without the dense form): ``F`` is the decode head's last feature map (the
input of ``conv_seg``), the similarity and attention maps are per pixel of
that map, the head's own ``conv_seg`` classifies every attention-weighted
pixel, and the cross-entropy is taken per pixel against the labels resized
by nearest neighbour to the feature map, ignoring label 255 (no global
pooling).
"""
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from mmokd.registry import MODELS
from ..tasks import TaskTerm
from ..utils import check_integer, check_nonnegative, check_positive, field_of
from .functional import (adm_consensus_loss, adm_divergence_loss,
                         adm_feature_loss, attended_logits, dml_kl)


@MODELS.register_module()
class ADMConsensusLoss(TaskTerm, nn.Module):
    """Consensus learning, owned by the student (ADM, Eq. 7).

    The student's own classifier on ``ReLU(F_s)`` re-weighted by the
    consensus map ``(1 + S) / (1 + mean S)`` (:func:`adm_attention`, which
    :class:`ADMDistiller` computes once per step and pair): regions where
    student and teacher agree count more. ``form='kd'`` is the paper's
    Table 15 / Eq. 11 variant: KL from the teacher's classifier on its
    equally re-weighted features (no gradient) instead of the label.

    Config example::

        loss_adm_consensus=dict(type='mmokd.ADMConsensusLoss',
                                loss_weight=0.01)  # alpha, CIFAR-100

    Args:
        loss_weight (float): ``alpha``.
        form (str): ``'ce'`` (Eq. 7, default) or ``'kd'`` (Eq. 11).
        tau (float): Temperature of the ``'kd'`` form.
        ignore_index (int): Ignored label for segmentation.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 form: str = 'ce',
                 tau: float = 1.0,
                 ignore_index: int = 255) -> None:
        super().__init__()
        if form not in ('ce', 'kd'):
            raise ValueError(
                f'ADMConsensusLoss.form must be "ce" or "kd", got "{form}".')
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))
        self.form = form
        self.tau = check_positive(tau, field_of(self, 'tau'))
        self.ignore_index = check_integer(ignore_index,
                                          field_of(self, 'ignore_index'))

    def forward(self,
                feat_s: Tensor,
                attn: Tensor,
                weight_s: Tensor,
                bias_s: Optional[Tensor],
                gt: Tensor,
                feat_t: Optional[Tensor] = None,
                weight_t: Optional[Tensor] = None,
                bias_t: Optional[Tensor] = None) -> Tensor:
        """Computes ``alpha * L_co``.

        Args:
            feat_s (Tensor): Student penultimate map.
            attn (Tensor): Consensus attention map ``(B, 1, H, W)``.
            weight_s (Tensor): Student classifier weight.
            bias_s (Tensor, optional): Student classifier bias.
            gt (Tensor): Labels.
            feat_t (Tensor, optional): Teacher penultimate map (``'kd'``
                form).
            weight_t (Tensor, optional): Teacher classifier weight.
            bias_t (Tensor, optional): Teacher classifier bias.

        Returns:
            Tensor: The weighted loss.
        """
        if self.form == 'ce':
            loss = adm_consensus_loss(feat_s, attn, weight_s, bias_s, gt,
                                      self.ignored_label())
        else:
            logits_s = attended_logits(feat_s, attn, weight_s, bias_s)
            with torch.no_grad():
                logits_t = attended_logits(feat_t, attn, weight_t, bias_t)
            loss = dml_kl(logits_s, logits_t, self.tau, gt,
                          self.ignored_label())
        return self.loss_weight * loss


@MODELS.register_module()
class ADMDivergenceLoss(TaskTerm, nn.Module):
    """Divergence learning, owned by the teacher (ADM, Eq. 8).

    The teacher's own classifier on ``ReLU(F_t)`` re-weighted by the
    divergence map ``(1 - S) / (1 - mean S)`` (:func:`adm_attention`):
    regions where the teacher differs from the student count more, which
    keeps the teacher's features diverse.

    Config example::

        loss_adm_divergence=dict(type='mmokd.ADMDivergenceLoss',
                                 loss_weight=0.6)  # beta, ImageNet

    Args:
        loss_weight (float): ``beta``.
        ignore_index (int): Ignored label for segmentation.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255) -> None:
        super().__init__()
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))
        self.ignore_index = check_integer(ignore_index,
                                          field_of(self, 'ignore_index'))

    def forward(self, feat_t: Tensor, attn: Tensor, weight_t: Tensor,
                bias_t: Optional[Tensor], gt: Tensor) -> Tensor:
        """Computes ``beta * L_di``.

        Args:
            feat_t (Tensor): Teacher penultimate map.
            attn (Tensor): Divergence attention map ``(B, 1, H, W)``.
            weight_t (Tensor): Teacher classifier weight.
            bias_t (Tensor, optional): Teacher classifier bias.
            gt (Tensor): Labels.

        Returns:
            Tensor: The weighted loss.
        """
        return self.loss_weight * adm_divergence_loss(
            feat_t, attn, weight_t, bias_t, gt, self.ignored_label())


@MODELS.register_module()
class ADMFeatureLoss(nn.Module):
    """Feature distillation, owned by the student (ADM, Eq. 5, App. A).

    MSE between each adapted student stage ``phi_i(F^s_i)`` and the
    detached teacher stage ``F^t_i``, stage ``i`` of ``N`` (shallow to
    deep) weighted ``1 / 2^(N - i + 1)`` (the deepest 1/2).

    Config example::

        loss_adm_feat=dict(type='mmokd.ADMFeatureLoss',
                           loss_weight=1.0)  # gamma, CIFAR-100

    Args:
        loss_weight (float): ``gamma``.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = check_nonnegative(loss_weight,
                                             field_of(self, 'loss_weight'))

    def forward(self, feats_s_aligned: Sequence[Tensor],
                feats_t: Sequence[Tensor]) -> Tensor:
        """Computes ``gamma * L_feat``.

        Args:
            feats_s_aligned (list[Tensor]): Adapted student stages.
            feats_t (list[Tensor]): Teacher stages, same order.

        Returns:
            Tensor: The weighted loss.
        """
        return adm_feature_loss(feats_s_aligned, feats_t, self.loss_weight)
