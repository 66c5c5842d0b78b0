"""Helpers shared by mmokd's models: hyper-parameter checks, the
non-finite guard, meta-tensor shape probes, wrapper access,
loss-dict conventions, the layout of graph-free forwards, BN folding of
frozen networks."""
from .batch_norm_folding import BatchNormFolding
from .hyperparams import (build_loss, check_flag, check_fraction,
                          check_integer, check_nonnegative, check_positive,
                          config_field, field_of)
from .inference_layout import graph_free_layout
from .loss_terms import LossDict, is_loss_term
from .nonfinite_guard import (NonFiniteGuard, build_nonfinite_guard,
                              nonfinite_tensors)
from .wrappers import unwrap

__all__ = [
    'BatchNormFolding', 'LossDict', 'NonFiniteGuard', 'build_loss',
    'build_nonfinite_guard', 'check_flag', 'check_fraction',
    'check_integer', 'check_nonnegative', 'check_positive', 'config_field',
    'field_of', 'graph_free_layout', 'is_loss_term', 'nonfinite_tensors',
    'unwrap'
]
