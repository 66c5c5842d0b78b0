"""The per-step merge of multi-branch kernels (GPD Sec. 3.3) changes no
gradient: one GPD train step with ``step_weight_cache`` against the same
step with every forward merging its own kernels."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmokd.models.gpd import (GPDMultiBranchConv2d, MultiBranchConv2d,
                              gpd_mode, set_step_weight_caching,
                              step_weight_cache)
from mmokd.models.gpd.conv import _MERGED_KERNELS
from mmokd.models.gpd.layout import widened
from mmokd.models.gpd.step_cache import StepCachedMixin
from mmokd.registry import MODELS
from tests.test_models.test_algorithms.test_gpd import GPD_EXPAND, gpd_config
from tests.toy_models import batch


class RecordingSGD(torch.optim.SGD):
    """SGD that keeps a copy of the gradients it steps with."""

    def step(self, closure=None):
        self.grads = [
            p.grad.clone() for group in self.param_groups
            for p in group['params']
        ]
        return super().step(closure)


def _step_grads(model, cached):
    set_step_weight_caching(model.store, cached)
    optimizer = RecordingSGD(model.parameters(), lr=0.1, momentum=0.9)
    wrapper = OptimWrapper(optimizer, clip_grad=dict(max_norm=5))
    model.train_step(batch(), wrapper)
    return optimizer.grads, model.state_dict()


@pytest.fixture(scope='module')
def branch_gpd():
    torch.manual_seed(0)
    model = MODELS.build(
        gpd_config(gpd=dict(GPD_EXPAND, branches='scratch')))
    with torch.no_grad():  # break the IR symmetry of the store
        for param in model.parameters():
            param.add_(torch.randn_like(param), alpha=0.01)
    return model.train()


def test_gradients_equal_one_merge_per_forward(branch_gpd):
    convs = [
        m for m in branch_gpd.store.modules()
        if isinstance(m, GPDMultiBranchConv2d)
    ]
    assert len(convs) > 10
    before, state_before = _step_grads(copy.deepcopy(branch_gpd), False)
    cached = copy.deepcopy(branch_gpd)
    after, state_after = _step_grads(cached, True)
    assert len(before) == len(after) == len(list(branch_gpd.parameters()))
    for grad_before, grad_after in zip(before, after):
        assert grad_before.abs().sum() > 0
        torch.testing.assert_close(grad_after, grad_before, rtol=0, atol=1e-6)
    for name, value in state_before.items():
        torch.testing.assert_close(
            state_after[name], value, rtol=0, atol=1e-6, msg=name)
    ops = [
        m for m in cached.store.modules() if isinstance(m, StepCachedMixin)
    ]
    assert len(ops) > len(convs)  # plain convs and the classifier too
    assert all(op._step_entry is None for op in ops)


def _two_steps(model, cached):
    set_step_weight_caching(model.store, cached)
    optimizer = RecordingSGD(model.parameters(), lr=0.1, momentum=0.9)
    wrapper = OptimWrapper(optimizer, clip_grad=dict(max_norm=5))
    grads, kernels = [], []
    for seed in (0, 1):
        model.train_step(batch(seed=seed), wrapper)
        grads.append(optimizer.grads)
        kernels.append({
            name: _MERGED_KERNELS[m].data_ptr()
            for name, m in model.store.named_modules() if m in _MERGED_KERNELS
        })
    return grads, kernels, model.state_dict()


def test_merged_kernels_kept_between_steps(branch_gpd):
    """The merged kernels are written into the same buffers every step
    (not saved or copied with the model) and two steps give the gradients
    and weights of two steps with one merge per forward."""
    before, no_kernels, state_before = _two_steps(
        copy.deepcopy(branch_gpd), False)
    assert no_kernels == [{}, {}]
    cached = copy.deepcopy(branch_gpd)
    after, kernels, state_after = _two_steps(cached, True)
    assert len(kernels[0]) == len([
        m for m in branch_gpd.store.modules()
        if isinstance(m, GPDMultiBranchConv2d)
    ])
    assert kernels[0] == kernels[1]
    for step_before, step_after in zip(before, after):
        for grad_before, grad_after in zip(step_before, step_after):
            torch.testing.assert_close(
                grad_after, grad_before, rtol=0, atol=1e-6)
    for name, value in state_before.items():
        torch.testing.assert_close(
            state_after[name], value, rtol=0, atol=1e-6, msg=name)
    copied = copy.deepcopy(cached)
    assert not any(m in _MERGED_KERNELS for m in copied.modules())


def test_a_graph_of_the_previous_kernel_is_refused():
    """Overwriting the kept kernel is an in-place write autograd sees: a
    graph of the previous step's kernel fails at its backward."""
    op = _branch_op()
    x = torch.randn(1, 8, 5, 5, requires_grad=True)
    for step in range(2):
        with step_weight_cache(op):
            with gpd_mode(op, 'dynamic_teacher'):
                loss = op(x).sum()
        if step == 0:
            stale = loss
    with pytest.raises(RuntimeError, match='modified by an inplace'):
        stale.backward()


def test_one_merge_per_step_and_nothing_kept(branch_gpd, monkeypatch):
    model = copy.deepcopy(branch_gpd)
    counts = {'full': 0, 'views': 0}
    for cls_method, key in (('full_weight', 'full'),
                            ('uncached_weight', 'views')):
        original = getattr(GPDMultiBranchConv2d, cls_method)

        def counted(self, original=original, key=key):
            counts[key] += 1
            return original(self)

        monkeypatch.setattr(GPDMultiBranchConv2d, cls_method, counted)
    convs = [
        m for m in model.store.modules()
        if isinstance(m, GPDMultiBranchConv2d)
    ]
    model.train_step(batch(), OptimWrapper(torch.optim.SGD(
        model.parameters(), lr=0.1)))
    assert counts == {'full': len(convs), 'views': 0}
    assert all(conv._step_entry is None for conv in convs)


def _branch_op():
    """A widened multi-branch conv (4 -> 6 student channels, ratio 2)."""
    torch.manual_seed(0)
    block = MultiBranchConv2d(
        nn.Conv2d(4, 6, 3, padding=1, bias=False), 'scratch')
    return GPDMultiBranchConv2d(block, 2, widened(4), True)


def test_a_changed_parameter_is_merged_again():
    op = _branch_op()
    x = torch.randn(1, 8, 5, 5)
    with step_weight_cache(op):
        with gpd_mode(op, 'dynamic_teacher'):
            op(x)
        with torch.no_grad():
            op.weight_avg.mul_(2)
        cached = op(x[:, :4])
    torch.testing.assert_close(cached, op(x[:, :4]), rtol=0, atol=1e-6)


def test_one_backward_of_both_forwards_is_refused():
    op = _branch_op()
    x = torch.randn(1, 8, 5, 5)
    with pytest.raises(RuntimeError, match='run each backward before the'):
        with step_weight_cache(op):
            with gpd_mode(op, 'dynamic_teacher'):
                loss_dt = op(x).sum()
            (loss_dt + op(x[:, :4]).sum()).backward()
