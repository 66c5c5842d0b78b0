"""Registered online distillation losses and their pure functions."""
from .dml_loss import DMLLoss
from .functional import dml_kl

__all__ = ['DMLLoss', 'dml_kl']
