"""Registered online distillation losses and their pure functions."""
from .adm_losses import ADMConsensusLoss, ADMDivergenceLoss, ADMFeatureLoss
from .dml_loss import DMLLoss
from .functional import (adm_attention, adm_consensus_loss,
                         adm_divergence_loss, adm_feature_loss, adm_similarity,
                         dml_kl, gpd_soft_cross_entropy, switokd_decision,
                         switokd_mode, switokd_statistics)
from .gpd_loss import GPDSoftCELoss

__all__ = [
    'ADMConsensusLoss', 'ADMDivergenceLoss', 'ADMFeatureLoss', 'DMLLoss',
    'GPDSoftCELoss', 'adm_attention', 'adm_consensus_loss',
    'adm_divergence_loss', 'adm_feature_loss', 'adm_similarity', 'dml_kl',
    'gpd_soft_cross_entropy', 'switokd_decision', 'switokd_mode',
    'switokd_statistics'
]
