"""Hooks of mmokd."""
from .export_peer_hook import ExportPeerHook

__all__ = ['ExportPeerHook']
