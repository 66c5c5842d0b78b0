"""Data transforms of mmokd."""
from .multi_view_seg import (MultiViewPhotoMetricDistortion,
                             PackMultiViewSegInputs)

__all__ = ['MultiViewPhotoMetricDistortion', 'PackMultiViewSegInputs']
