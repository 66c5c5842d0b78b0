"""Distillers: record peers and route their outputs into losses."""
from .adm_distiller import ADMDistiller
from .online_distiller import OnlineDistiller, stack_labels

__all__ = ['ADMDistiller', 'OnlineDistiller', 'stack_labels']
