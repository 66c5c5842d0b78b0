"""Hooks of mmokd."""
from .export_peer_hook import ExportPeerHook
from .kdcl_general_weights_hook import KDCLGeneralWeightsHook

__all__ = ['ExportPeerHook', 'KDCLGeneralWeightsHook']
