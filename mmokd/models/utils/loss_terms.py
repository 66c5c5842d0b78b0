"""The loss dicts mmengine models return, and which entries are losses."""
from typing import Dict

from torch import Tensor

#: ``{term name: value}`` of one network, as ``mode='loss'`` returns it.
LossDict = Dict[str, Tensor]


def is_loss_term(key: str) -> bool:
    """Whether a loss-dict entry is a loss.

    mmengine's ``BaseModel.parse_losses`` sums the entries whose name
    contains ``'loss'`` and only logs the others (e.g. mmseg's
    ``acc_seg``).

    Args:
        key (str): Entry name.

    Returns:
        bool: True for a loss.
    """
    return 'loss' in key
