"""Registered online distillation losses and their pure functions."""
from .adm_losses import ADMConsensusLoss, ADMDivergenceLoss, ADMFeatureLoss
from .det_adm_losses import DetADMClsLoss, DetADMFeatureLoss
from .det_dml_loss import DetDMLLoss
from .det_roi_dml_loss import DetRoIDMLLoss
from .dml_loss import DMLLoss
from .functional import (KDCL_STRATEGIES, adm_attention, adm_consensus_loss,
                         adm_divergence_loss, adm_feature_loss, adm_similarity,
                         dml_kl, gpd_soft_cross_entropy, kdcl_ensemble,
                         kdcl_error_gram, kdcl_general_weights,
                         kdcl_linear_weights, perrone_cooper_weights,
                         switokd_decision, switokd_mode, switokd_statistics)
from .gpd_loss import GPDSoftCELoss
from .kdcl_loss import KDCLLoss
from .mcdistil_loss import MCDistilLoss

__all__ = [
    'ADMConsensusLoss', 'ADMDivergenceLoss', 'ADMFeatureLoss', 'DMLLoss',
    'DetADMClsLoss', 'DetADMFeatureLoss', 'DetDMLLoss', 'DetRoIDMLLoss',
    'GPDSoftCELoss', 'KDCLLoss', 'KDCL_STRATEGIES', 'MCDistilLoss',
    'adm_attention', 'adm_consensus_loss', 'adm_divergence_loss',
    'adm_feature_loss', 'adm_similarity', 'dml_kl', 'gpd_soft_cross_entropy',
    'kdcl_ensemble', 'kdcl_error_gram', 'kdcl_general_weights',
    'kdcl_linear_weights', 'perrone_cooper_weights', 'switokd_decision',
    'switokd_mode', 'switokd_statistics'
]
