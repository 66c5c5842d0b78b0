"""Hooks of mmokd."""
from .export_peer_hook import ExportPeerHook
from .kdcl_general_weights_hook import KDCLGeneralWeightsHook
from .label_check_hook import LabelCheckHook
from .resume_check_hook import ResumeCheckHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'ExportPeerHook', 'KDCLGeneralWeightsHook', 'LabelCheckHook',
    'ResumeCheckHook', 'RNGStateHook'
]
