"""GPD batch normalisation (Guo et al., ICLR 2025, Sec. 3.2).

DT mode computes ``BN(r x) / r`` with its own statistics, student mode a
plain BN on ``gamma[:C]``; eps / momentum are kept; SyncBatchNorm students
keep synchronised batch statistics in both modes.
"""
import copy
import multiprocessing
import os
import socket

import pytest
import torch
import torch.distributed as dist
from torch import nn

from mmokd.models.gpd import (GPDBatchNorm2d, expand_to_dynamic_teacher,
                              gpd_mode, set_gpd_mode)
from tests.test_models.test_gpd.gpd_models import (GPD_ARGS, build_new,
                                                   expanded, images,
                                                   randomize_bn)


def _student_bn(sync=False, momentum=0.1):
    bn = (nn.SyncBatchNorm if sync else nn.BatchNorm2d)(
        4, eps=1e-3, momentum=momentum)
    return randomize_bn(nn.Sequential(bn))[0]


def test_modes_against_plain_bn():
    """Student == plain BN; DT on cat([x/2, x/2]) == cat([BN(x)/2] * 2)."""
    bn = _student_bn()
    op = GPDBatchNorm2d(bn, 2, expanded=True)
    assert (op.eps, op.momentum) == (1e-3, 0.1)
    x = torch.randn(8, 4, 3, 3)
    for training in (False, True):
        bn.train(training)
        op.train(training)
        expected = bn(x)
        torch.testing.assert_close(op(x), expected)
        with gpd_mode(op, 'dynamic_teacher'):
            teacher = op(torch.cat([x / 2] * 2, 1))
        torch.testing.assert_close(teacher, torch.cat([expected / 2] * 2, 1))
    torch.testing.assert_close(op.student_running_mean, bn.running_mean)
    torch.testing.assert_close(op.running_mean[4:], bn.running_mean)


@pytest.mark.parametrize('ratio,affine', [(2, True), (2, False), (3, True)])
def test_dt_is_bn_of_the_rescaled_input(ratio, affine):
    """The DT's BN (computed on ``x`` with ``eps / r^2``) equals a plain BN
    of ``r x`` divided by ``r``, running statistics included: bit for bit
    for ``r = 2``, up to rounding otherwise."""
    torch.manual_seed(0)
    op = GPDBatchNorm2d(
        nn.BatchNorm2d(4, eps=1e-3, affine=affine), ratio, expanded=True)
    reference = nn.BatchNorm2d(4 * ratio, eps=1e-3, affine=affine)
    reference.load_state_dict({
        key: value
        for key, value in op.state_dict().items()
        if not key.startswith('student_')
    })
    tol = dict(rtol=0, atol=0) if ratio == 2 else dict(rtol=1e-6, atol=1e-6)
    for training in (True, True, False):
        op.train(training)
        reference.train(training)
        x = torch.randn(8, 4 * ratio, 5, 5) / ratio
        with gpd_mode(op, 'dynamic_teacher'):
            out = op(x)
        torch.testing.assert_close(out, reference(x * ratio) / ratio, **tol)
        torch.testing.assert_close(op.running_mean, reference.running_mean,
                                   **tol)
        torch.testing.assert_close(op.running_var, reference.running_var,
                                   **tol)


def test_cumulative_momentum():
    """momentum=None (cumulative average) behaves like nn.BatchNorm2d."""
    bn = _student_bn(momentum=None)
    op = GPDBatchNorm2d(bn, 2, expanded=True).train()
    bn.train()
    for seed in range(3):
        x = torch.randn(
            4, 4, 2, 2, generator=torch.Generator().manual_seed(seed))
        bn(x)
        op(x)
    torch.testing.assert_close(op.student_running_var, bn.running_var)
    assert op.student_num_batches_tracked == bn.num_batches_tracked


def test_syncbn_model_single_process():
    """A SyncBN ResNet-18 gets synced GPD BNs equal to BN in one process."""
    _, plain_bn = expanded('resnet18')
    model = build_new(
        'resnet18',
        cfg_options={'model.backbone.norm_cfg': dict(type='SyncBN')})
    assert isinstance(model.backbone.bn1, nn.SyncBatchNorm)
    expand_to_dynamic_teacher(
        model, noise_std=0, example_input=images(), **GPD_ARGS['resnet18'])
    bns = [m for m in model.modules() if isinstance(m, GPDBatchNorm2d)]
    assert bns and all(m.sync for m in bns)
    x = images(4, size=64)
    model.train()
    reference = copy.deepcopy(plain_bn).train()
    for mode in ('student', 'dynamic_teacher'):
        set_gpd_mode(model, mode)
        set_gpd_mode(reference, mode)
        with torch.no_grad():
            torch.testing.assert_close(
                model(x, mode='tensor'), reference(x, mode='tensor'))


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _synced_worker(rank, port, x, weight, expected):
    """Rank ``rank`` normalises its half of ``x``; checks against one
    process normalising all of it (outputs, input / affine gradients and
    running statistics)."""
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        half = slice(rank * 4, rank * 4 + 4)
        for mode, (out, x_grad, w_grad, mean, var) in expected.items():
            op = GPDBatchNorm2d(_student_bn(sync=True), 2, True).train()
            set_gpd_mode(op, mode)
            xs = x[mode][half].clone().requires_grad_()
            y = op(xs)
            (y * weight[mode][half]).sum().backward()
            dist.all_reduce(op.weight.grad)
            torch.testing.assert_close(y, out[half])
            torch.testing.assert_close(xs.grad, x_grad[half])
            torch.testing.assert_close(op.weight.grad, w_grad)
            stats = ('student_' if mode == 'student' else '') + 'running_'
            torch.testing.assert_close(getattr(op, stats + 'mean'), mean)
            torch.testing.assert_close(getattr(op, stats + 'var'), var)
    finally:
        dist.destroy_process_group()


def test_syncbn_two_processes():
    """2-process gloo: synced statistics equal full-batch statistics."""
    torch.manual_seed(0)
    x, weight, expected = {}, {}, {}
    for mode, channels in (('student', 4), ('dynamic_teacher', 8)):
        x[mode] = torch.randn(8, channels, 3, 3)
        weight[mode] = torch.randn(8, channels, 3, 3)
        op = GPDBatchNorm2d(_student_bn(sync=True), 2, True).train()
        set_gpd_mode(op, mode)
        xs = x[mode].clone().requires_grad_()
        y = op(xs)  # one process: falls back to BN
        (y * weight[mode]).sum().backward()
        stats = ('student_' if mode == 'student' else '') + 'running_'
        expected[mode] = (y.detach(), xs.grad, op.weight.grad,
                          getattr(op,
                                  stats + 'mean'), getattr(op, stats + 'var'))
    port = _free_port()
    ctx = multiprocessing.get_context('fork')
    procs = [
        ctx.Process(
            target=_synced_worker, args=(rank, port, x, weight, expected))
        for rank in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        if proc.is_alive():
            proc.kill()
    assert [proc.exitcode for proc in procs] == [0, 0]
