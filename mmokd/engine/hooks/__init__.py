"""Hooks of mmokd."""
from .export_peer_hook import ExportPeerHook
from .kdcl_general_weights_hook import KDCLGeneralWeightsHook
from .label_check_hook import LabelCheckHook

__all__ = ['ExportPeerHook', 'KDCLGeneralWeightsHook', 'LabelCheckHook']
