"""Online distillation algorithms."""
from .dml import DML
from .online_distill import OnlineDistill
from .switokd import SwitOKD

__all__ = ['DML', 'OnlineDistill', 'SwitOKD']
