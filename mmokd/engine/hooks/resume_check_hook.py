"""Refuses to resume from a checkpoint of another model."""
import re
from typing import Dict, List

from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict

from mmokd.models.utils import unwrap
from mmokd.registry import HOOKS


@HOOKS.register_module()
class ResumeCheckHook(Hook):
    """Stops a resume whose checkpoint does not fit the model, before any
    weight is loaded.

    mmengine loads a resumed ``state_dict`` non-strictly: a checkpoint of
    another pair prints one size-mismatch line per tensor and then fails
    in the optimizer with an unrelated message. This hook compares the
    checkpoint's keys and shapes with the model's first, and, with one
    optimizer per trained module, the checkpoint's optimizers with the
    model's ``optimized_names`` (the
    :class:`~mmokd.models.algorithms.base.PeerAlgorithm` contract); it
    raises one short error naming the networks on both sides and the
    first keys that differ. ``load_from`` (not a resume) is left to
    mmengine, which loads what fits, e.g. to fine-tune with another head.

    Example:
        >>> default_hooks = dict(
        ...     resume_check=dict(type='mmokd.ResumeCheckHook'))

    Args:
        max_keys (int): How many differing keys the error names.
            Defaults to 5.
    """

    # Before other hooks (e.g. EMAHook) load anything from the checkpoint.
    priority = 'VERY_HIGH'

    def __init__(self, max_keys: int = 5) -> None:
        self.max_keys = max_keys

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Raises if a resumed checkpoint does not fit the model.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.

        Raises:
            RuntimeError: Naming both sides' networks and the first keys
                that are missing, unexpected or of another shape.
        """
        if not runner._resume:
            return
        model = unwrap(runner.model)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        saved = {
            re.sub(r'^module\.', '', k): tuple(v.shape)
            for k, v in checkpoint.get('state_dict', checkpoint).items()
        }
        differences = _differences(saved, expected)
        optimizers = checkpoint.get('optimizer')
        if isinstance(getattr(runner, 'optim_wrapper', None),
                      OptimWrapperDict) and isinstance(optimizers, dict) \
                and sorted(optimizers) != sorted(model.optimized_names):
            differences.insert(
                0, f'optimizers: checkpoint {sorted(optimizers)}, model '
                f'{sorted(model.optimized_names)}')
        if not differences:
            return
        shown = '\n  '.join(differences[:self.max_keys])
        more = len(differences) - self.max_keys
        raise RuntimeError(
            'Cannot resume: the checkpoint was saved by another model.\n'
            f'Networks in the checkpoint: {_networks(saved)}; in this '
            f'model: {_networks(expected)}.\n'
            f'{len(differences)} keys differ, first:\n  {shown}' +
            (f'\n  ... and {more} more' if more > 0 else '') +
            '\nResume a checkpoint of this config, or start from its '
            'weights with load_from (no optimizer state).')


def _differences(saved: dict, expected: dict) -> List[str]:
    """Lists the keys of a saved state dict that do not fit a model's.

    Args:
        saved (dict): Key to shape, from the checkpoint.
        expected (dict): Key to shape, from the model.

    Returns:
        list[str]: One line per key of another shape, then per key only
        the model has, then per key only the checkpoint has, each group
        in the model's / checkpoint's key order.
    """
    shapes = [
        f'{key}: checkpoint {list(saved[key])}, model {list(shape)}'
        for key, shape in expected.items()
        if key in saved and saved[key] != shape
    ]
    missing = [
        f'{key}: not in the checkpoint' for key in expected if key not in saved
    ]
    unexpected = [
        f'{key}: not in the model' for key in saved if key not in expected
    ]
    return shapes + missing + unexpected


def _networks(shapes: Dict[str, tuple]) -> str:
    """The top-level modules (peers) the keys belong to."""
    return ', '.join(dict.fromkeys(key.split('.')[0] for key in shapes))
