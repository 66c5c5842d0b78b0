"""Pure-function forms of the online distillation losses, one module per
method; registered loss modules wrap them, and tests compare them with
values computed independently."""
from .adm import (adm_attended_cross_entropy, adm_attention,
                  adm_consensus_loss, adm_divergence_loss, adm_feature_loss,
                  adm_similarity, attended_logits, dense_cross_entropy)
from .common import class_last, label_rows, resize_labels, resize_like
from .det import (DET_KDCL_STRATEGIES, binary_kl, binary_minlogit,
                  det_adm_attention, det_dml_kl, det_feature_mse,
                  det_kdcl_ensemble, det_onehot, det_rows,
                  det_switokd_statistics, inside_positions, level_view,
                  mask_view, padding_valid_masks, soft_foreground_count,
                  softmax_kl)
from .dml import dml_kl
from .gpd import gpd_soft_cross_entropy
from .kdcl import (KDCL_STRATEGIES, class_row_losses, kdcl_ensemble,
                   kdcl_error_gram, kdcl_general_weights,
                   kdcl_linear_weights, perrone_cooper_weights)
from .mcdistil import (lookahead_weight_grads, mcdistil_item_losses,
                       mcdistil_weighted_losses, sgd_lookahead)
from .switokd import switokd_decision, switokd_mode, switokd_statistics

__all__ = [
    'DET_KDCL_STRATEGIES', 'binary_kl', 'binary_minlogit',
    'det_adm_attention', 'det_dml_kl', 'det_feature_mse', 'det_kdcl_ensemble',
    'det_onehot', 'det_rows', 'det_switokd_statistics',
    'inside_positions', 'level_view', 'mask_view',
    'padding_valid_masks', 'soft_foreground_count', 'softmax_kl',
    'KDCL_STRATEGIES', 'adm_attended_cross_entropy', 'adm_attention',
    'adm_consensus_loss', 'adm_divergence_loss', 'adm_feature_loss',
    'adm_similarity', 'attended_logits', 'class_last', 'class_row_losses',
    'dense_cross_entropy',
    'dml_kl', 'gpd_soft_cross_entropy', 'kdcl_ensemble', 'kdcl_error_gram',
    'kdcl_general_weights', 'kdcl_linear_weights', 'label_rows',
    'lookahead_weight_grads', 'mcdistil_item_losses',
    'mcdistil_weighted_losses', 'perrone_cooper_weights', 'resize_labels',
    'resize_like', 'sgd_lookahead', 'switokd_decision', 'switokd_mode',
    'switokd_statistics'
]
