"""Builders of peers from other OpenMMLab configs."""
from .external_model import ExternalModel, load_model_config

__all__ = ['ExternalModel', 'load_model_config']
