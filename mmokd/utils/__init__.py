"""Utilities: config checks, CPU multi-process set-up, safe checkpoint
loading, peer export."""
from .checkpoint import CheckpointRefusedError, load_checkpoint_safely
from .config_checks import check_dataset_folders, check_views
from .det_checks import check_detection
from .distributed import (needs_cpu_distributed, setup_cpu_distributed,
                          shutdown_distributed)
from .export import export_peer, peer_state_dict, save_peer_checkpoint
from .mcdistil_checks import check_mcdistil

__all__ = [
    'CheckpointRefusedError', 'check_dataset_folders', 'check_detection',
    'check_mcdistil', 'check_views', 'export_peer', 'load_checkpoint_safely',
    'needs_cpu_distributed', 'peer_state_dict', 'save_peer_checkpoint',
    'setup_cpu_distributed', 'shutdown_distributed'
]
