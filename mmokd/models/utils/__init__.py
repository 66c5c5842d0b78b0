"""Helpers shared by mmokd's models: hyper-parameter checks, the
non-finite guard, meta-tensor shape probes, wrapper access."""
from .hyperparams import (check_flag, check_fraction, check_integer,
                          check_nonnegative, check_positive, config_field,
                          field_of)
from .nonfinite_guard import (NonFiniteGuard, build_nonfinite_guard,
                              nonfinite_tensors)
from .wrappers import unwrap

__all__ = [
    'NonFiniteGuard', 'build_nonfinite_guard', 'check_flag', 'check_fraction',
    'check_integer', 'check_nonnegative', 'check_positive', 'config_field',
    'field_of', 'nonfinite_tensors', 'unwrap'
]
