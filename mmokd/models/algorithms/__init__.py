"""Online distillation algorithms."""
from .dml import DML
from .gpd import GPD
from .kdcl import KDCL
from .mcdistil import MCDistil
from .online_distill import OnlineDistill
from .switokd import SwitOKD

__all__ = ['DML', 'GPD', 'KDCL', 'MCDistil', 'OnlineDistill', 'SwitOKD']
