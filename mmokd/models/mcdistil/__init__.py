"""MC-Distil's modules beside its algorithm: the C-Net."""
from .cnet import MCDistilCNet

__all__ = ['MCDistilCNet']
