"""Data preprocessors of mmokd."""
from .multi_view import (MultiViewClsDataPreprocessor,
                         MultiViewSegDataPreProcessor, split_views)

__all__ = [
    'MultiViewClsDataPreprocessor', 'MultiViewSegDataPreProcessor',
    'split_views'
]
