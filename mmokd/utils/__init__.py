"""Utilities: config checks, CPU multi-process set-up, peer export."""
from .config_checks import check_dataset_folders, check_views
from .distributed import (needs_cpu_distributed, setup_cpu_distributed,
                          shutdown_distributed)
from .export import (export_peer, load_checkpoint_safely, peer_state_dict,
                     save_peer_checkpoint)

__all__ = [
    'check_dataset_folders', 'check_views', 'export_peer',
    'load_checkpoint_safely', 'needs_cpu_distributed', 'peer_state_dict',
    'save_peer_checkpoint', 'setup_cpu_distributed', 'shutdown_distributed'
]
