"""Distillers: record peers and route their outputs into losses."""
from .online_distiller import OnlineDistiller, stack_labels

__all__ = ['OnlineDistiller', 'stack_labels']
