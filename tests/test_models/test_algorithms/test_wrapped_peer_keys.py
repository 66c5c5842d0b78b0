"""A model whose peers are wrapped (as MMSeparateDistributedDataParallel
does) saves plain keys and loads them back through torch's loader (e.g.
EMAHook's averaged copy on resume) and mmengine's."""
import copy

import torch
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner.checkpoint import load_state_dict
from torch import nn

from mmokd.registry import MODELS
from tests.toy_models import dml_config


@MODEL_WRAPPERS.register_module()
class ToyPeerWrapper(nn.Module):
    """Stands in for DDP: holds the peer as ``module``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


def wrapped_algorithm():
    algorithm = MODELS.build(dml_config())
    for name in ('student', 'teacher'):
        setattr(algorithm, name, ToyPeerWrapper(getattr(algorithm, name)))
    return algorithm


def test_plain_keys_load_into_wrapped_peers_with_both_loaders():
    saved = {
        key: torch.randn_like(value) if value.is_floating_point() else value
        for key, value in wrapped_algorithm().state_dict().items()
    }
    assert not any('.module.' in key for key in saved)
    # torch's loader walks through the wrappers (EMAHook's copy).
    averaged = copy.deepcopy(wrapped_algorithm())
    averaged.load_state_dict(saved, strict=True)
    # mmengine's loader skips them (the runner's resume).
    model = wrapped_algorithm()
    load_state_dict(model, saved, strict=True)
    for loaded in (averaged, model):
        for key, value in loaded.state_dict().items():
            assert torch.equal(value, saved[key]), key
