"""Loops of mmokd."""
from .peer_evaluation import OnlineDistillTestLoop, OnlineDistillValLoop

__all__ = ['OnlineDistillTestLoop', 'OnlineDistillValLoop']
