"""Distillers: record peers and route their outputs into losses."""
from .adm_distiller import ADMDistiller
from .dense_head_recorder import DenseHeadRecorder
from .det_adm_distiller import DetADMDistiller
from .online_distiller import OnlineDistiller
from .roi_head_recorder import RoIHeadRecorder

__all__ = [
    'ADMDistiller', 'DenseHeadRecorder', 'DetADMDistiller', 'OnlineDistiller',
    'RoIHeadRecorder'
]
