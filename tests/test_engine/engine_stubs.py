"""The few runner attributes mmokd's loops, hooks and constructors read,
around real mmokd algorithms and real mmengine / mmpretrain components."""
import logging
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmpretrain.evaluation import Accuracy

from tests.toy_models import batch, build_dml


class BatchList(list):
    """Batches with the ``dataset`` a loop asks its dataloader for."""

    def __init__(self, batches: List[dict], metainfo: dict) -> None:
        super().__init__(batches)
        size = sum(len(b['data_samples']) for b in batches)
        self.dataset = type('Dataset', (), {
            'metainfo': metainfo,
            '__len__': lambda _: size
        })()


class StubRunner:
    """Records the hooks called; holds a model, its config (empty by
    default) and a log directory."""

    def __init__(self,
                 model: torch.nn.Module,
                 log_dir: str = '',
                 cfg: Optional[Config] = None) -> None:
        self.model = model
        self.cfg = cfg or Config()
        self.log_dir = log_dir
        self.hooks: list = []
        self.calls: List[Tuple[str, dict]] = []
        self.iter, self.epoch = 4, 1
        self.visualizer = type('Visualizer', (), {})()
        self.logger = logging.getLogger('stub_runner')
        self.train_dataloader = BatchList([], dict(classes=('a', 'b')))

    def call_hook(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))


def dml_model(seed: int = 0) -> torch.nn.Module:
    """A two-peer DML model over tiny mmpretrain classifiers."""
    return build_dml(seed)


def batches(count: int = 2) -> BatchList:
    """``count`` labelled batches of 4 images."""
    return BatchList([batch(seed=seed) for seed in range(count)],
                     dict(classes=tuple(str(i) for i in range(10))))


def accuracy_evaluator() -> Evaluator:
    """mmpretrain's top-1 accuracy."""
    return Evaluator(Accuracy(topk=(1, )))
