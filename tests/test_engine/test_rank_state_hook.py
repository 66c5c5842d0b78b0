"""RankStateHook: a resumed run repeats an uninterrupted one exactly, with
random augmentation (Python, numpy and torch generators), dropout and
validation, in iteration- and epoch-based loops, with and without
dataloader workers, with a fixed or a per-run seed."""
import os.path as osp
import random
import uuid

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from mmokd.utils import load_checkpoint_safely
from mmokd.utils.random_state import get_random_state, set_random_state


class NoisyDataset(Dataset):
    """Eight samples, each augmented with draws from all three
    generators."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        noise = random.random() + np.random.rand() + torch.rand(1)
        return dict(inputs=torch.full((4, ), float(index)) + noise)


class DropoutModel(BaseModel):
    """Linear + BatchNorm + dropout: its loss depends on torch's
    generator."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.bn = nn.BatchNorm1d(4)
        self.dropout = nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.dropout(self.bn(self.linear(torch.stack(inputs))))
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


class CountMetric(BaseMetric):
    """Counts validated samples."""

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(1 for _ in data_samples)

    def compute_metrics(self, results) -> dict:
        return dict(count=len(results))


def train(work_dir,
          by_epoch,
          num_workers,
          seed,
          resume_from=None,
          rng_hook=True):
    """Trains 4 iterations (2 epochs of 2 batches), checkpointing and
    validating after 2 (after each epoch); returns the final
    checkpoint."""
    loader = dict(
        dataset=NoisyDataset(),
        batch_size=4,
        num_workers=num_workers,
        persistent_workers=False,
        sampler=dict(
            type='DefaultSampler' if by_epoch else 'InfiniteSampler',
            shuffle=True))
    hooks = dict(
        checkpoint=dict(
            type='CheckpointHook',
            interval=1 if by_epoch else 2,
            by_epoch=by_epoch))
    if rng_hook:
        hooks['rank_state'] = dict(type='mmokd.RankStateHook')
    loop = dict(by_epoch=True, max_epochs=2, val_interval=1) if by_epoch \
        else dict(by_epoch=False, max_iters=4, val_interval=2)
    runner = Runner(
        model=DropoutModel(),
        work_dir=str(work_dir),
        experiment_name=f'rng_{uuid.uuid4().hex}',
        # The scope left current for later tests' mmokd builds.
        default_scope='mmokd',
        train_dataloader=loader,
        val_dataloader=dict(
            loader,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        val_evaluator=Evaluator(CountMetric()),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=loop,
        default_hooks=hooks,
        randomness=dict(seed=seed),
        resume=resume_from is not None,
        load_from=resume_from,
        log_level='WARNING')
    runner.train()
    name = 'epoch_2.pth' if by_epoch else 'iter_4.pth'
    return load_checkpoint_safely(osp.join(str(work_dir), name))


def max_difference(a, b):
    return max(
        float((value.double() - b['state_dict'][key].double()).abs().max())
        for key, value in a['state_dict'].items())


@pytest.mark.parametrize('by_epoch, num_workers, seed', [
    (False, 0, 0),
    (False, 2, 0),
    (True, 0, 0),
    (True, 2, 0),
    (False, 0, None),
])
def test_resumed_run_repeats_the_uninterrupted_one(tmp_path, by_epoch,
                                                   num_workers, seed):
    full = train(tmp_path / 'full', by_epoch, num_workers, seed)
    middle = osp.join(tmp_path, 'full',
                      'epoch_1.pth' if by_epoch else 'iter_2.pth')
    resumed = train(
        tmp_path / 'resumed', by_epoch, num_workers, seed, resume_from=middle)
    assert len(load_checkpoint_safely(middle)['rank_states']) == 1
    assert max_difference(full, resumed) == 0.0


def test_without_the_hook_a_resumed_run_differs(tmp_path):
    full = train(tmp_path / 'full', False, 0, 0, rng_hook=False)
    resumed = train(
        tmp_path / 'resumed',
        False,
        0,
        0,
        resume_from=osp.join(tmp_path, 'full', 'iter_2.pth'),
        rng_hook=False)
    assert max_difference(full, resumed) > 1e-3


def test_random_state_round_trip_through_a_safe_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    np.random.randn()  # a cached Gaussian in numpy's state
    path = str(tmp_path / 'state.pth')
    torch.save(get_random_state(), path)
    expected = (random.random(), np.random.randn(), torch.rand(3))
    set_random_state(torch.load(path, weights_only=True))
    drawn = (random.random(), np.random.randn(), torch.rand(3))
    assert drawn[:2] == expected[:2]
    assert torch.equal(drawn[2], expected[2])
