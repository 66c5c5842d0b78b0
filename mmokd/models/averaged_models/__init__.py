"""Weight averages (EMA) of mmokd algorithms."""
from .unwrapped_ema import UnwrappedExponentialMovingAverage

__all__ = ['UnwrappedExponentialMovingAverage']
