"""Online distillation algorithms and their contract (PeerAlgorithm)."""
from .base import PeerAlgorithm
from .dml import DML
from .gpd import GPD
from .kdcl import KDCL
from .mcdistil import MCDistil
from .online_distill import OnlineDistill
from .switokd import SwitOKD

__all__ = [
    'DML', 'GPD', 'KDCL', 'MCDistil', 'OnlineDistill', 'PeerAlgorithm',
    'SwitOKD'
]
