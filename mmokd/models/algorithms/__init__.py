"""Online distillation algorithms."""
from .dml import DML
from .online_distill import OnlineDistill

__all__ = ['DML', 'OnlineDistill']
