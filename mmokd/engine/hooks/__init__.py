"""Hooks of mmokd."""
from .export_peer_hook import ExportPeerHook
from .kdcl_general_weights_hook import KDCLGeneralWeightsHook
from .label_check_hook import LabelCheckHook
from .mcdistil_meta_hook import MCDistilMetaHook
from .rank_state_hook import RankStateHook
from .resume_check_hook import ResumeCheckHook

__all__ = [
    'ExportPeerHook', 'KDCLGeneralWeightsHook', 'LabelCheckHook',
    'MCDistilMetaHook', 'RankStateHook', 'ResumeCheckHook'
]
