"""Optimizer wrapper constructors of mmokd."""
from .peer_optim_wrapper_constructor import PeerOptimWrapperConstructor

__all__ = ['PeerOptimWrapperConstructor']
