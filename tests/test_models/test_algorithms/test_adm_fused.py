"""ADM's compiled terms (``fuse_terms=True``) against the eager path.

One compiled model is shared by the tests (compiling ADM's four graphs
takes tens of seconds on a cold Inductor cache).
"""
import copy
import multiprocessing
import os
import queue
import socket

import pytest
import torch
import torch.distributed as dist
from mmengine.logging import MMLogger
from mmengine.model import MMSeparateDistributedDataParallel

from mmokd.models.utils import unwrap
from mmokd.registry import MODELS
from tests.toy_models import ADM, batch, dml_config, sgd_dict

# Every ADM term and the KD form of the consensus (the shipped ImageNet
# config): attention, consensus, divergence and a two-stage feature term.
STAGE = dict(source='backbone.layer3', channels=dict(student=32, teacher=64))
FUSED_ADM = dict(ADM, consensus_form='kd', feature_stages=[STAGE])
# adm_attention and the forward of the three term classes.
GRAPHS = 4


def build(fuse_terms):
    torch.manual_seed(0)
    return MODELS.build(
        dml_config(distiller=dict(FUSED_ADM, fuse_terms=fuse_terms)))


@pytest.fixture(scope='module')
def models():
    """``(eager, fused)`` models with equal weights."""
    return build(False), build(True)


def losses_and_grads(model, data):
    """Every peer's terms, and every gradient after each peer's backward
    (one per peer, as ``train_step`` does)."""
    model.zero_grad(set_to_none=True)
    losses = model.peer_losses(**model.data_preprocessor(data, True))
    for peer in model.peer_names:
        sum(losses[peer].values()).backward()
    grads = {
        name: param.grad
        for name, param in model.named_parameters() if param.grad is not None
    }
    return losses, grads


def test_fused_terms_equal_the_eager_ones_and_their_gradients(models):
    eager, fused = models
    expected, expected_grads = losses_and_grads(eager, batch())
    losses, grads = losses_and_grads(fused, batch())
    terms = fused.distiller.fused_terms
    assert terms.fallback_reason is None
    assert terms.compilations == GRAPHS  # really compiled
    assert {p: set(t) for p, t in losses.items()} == \
        {p: set(t) for p, t in expected.items()}
    for peer, peer_losses in expected.items():
        for name, value in peer_losses.items():
            torch.testing.assert_close(
                losses[peer][name], value, rtol=1e-5, atol=1e-5)
    assert set(grads) == set(expected_grads)
    assert any('adm_adapter0' in name for name in grads)
    for name, grad in expected_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-5, atol=1e-5)


def test_a_peer_backward_reaches_none_of_the_other_peer_parameters(models):
    """The KD-form consensus term (the student's) reads the teacher's
    classifier without gradient: the student's backward must not reach
    it, or DDP sees the teacher's parameters ready twice in one step."""
    _, model = models
    reached = []
    handles = [
        param.register_post_accumulate_grad_hook(
            lambda _, name=name: reached.append(name))
        for name, param in model.teacher.named_parameters()
    ]
    model.zero_grad(set_to_none=True)
    losses = model.peer_losses(**model.data_preprocessor(batch(), True))
    sum(losses['student'].values()).backward()
    for handle in handles:
        handle.remove()
    assert reached == []


def test_training_does_not_recompile(models):
    """20 steps of one shape, then an epoch's smaller last batch."""
    _, model = models
    terms = model.distiller.fused_terms
    state = copy.deepcopy(model.state_dict())
    optim = sgd_dict(model)
    model.train_step(batch(), optim)
    assert terms.compilations == GRAPHS
    for seed in range(20):
        model.train_step(batch(seed=seed), optim)
    assert terms.compilations == GRAPHS
    log_vars = model.train_step(batch(num_images=3), optim)
    assert terms.compilations == GRAPHS
    assert torch.isfinite(log_vars['student.loss_adm_consensus'])
    model.load_state_dict(state)


def test_falls_back_to_eager_with_the_reason_without_a_compiler(
        models, monkeypatch):
    """No C++ compiler for Inductor's CPU kernels: eager terms, logged."""
    eager, _ = models
    warnings = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning',
                        warnings.append)
    model = build(True)
    with torch._inductor.config.patch({
            'cpp.cxx': (None, 'no-such-compiler'),
            'fx_graph_cache': False
    }), torch._functorch.config.patch(enable_autograd_cache=False):
        losses, _ = losses_and_grads(model, batch())
    terms = model.distiller.fused_terms
    assert terms.compilations == 0
    assert 'no-such-compiler' in terms.fallback_reason
    assert warnings == [
        "model.distiller.fuse_terms: ADM's terms could not be compiled "
        f'({terms.fallback_reason}); they are computed eagerly.'
    ]
    expected, _ = losses_and_grads(eager, batch())
    for peer, peer_losses in expected.items():
        for name, value in peer_losses.items():
            assert torch.equal(losses[peer][name], value)


def test_fuse_terms_must_be_a_flag():
    with pytest.raises(ValueError, match='fuse_terms must be True or False'):
        build('yes')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _ddp_worker(rank, port, results):
    """Two train steps of the fused model wrapped as the configs wrap it
    (one DDP per peer and one for the distiller's adapters)."""
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        model = build(True)
        wrapped = MMSeparateDistributedDataParallel(model)
        optim = sgd_dict(model)
        for step in range(2):
            log_vars = wrapped.train_step(batch(seed=2 * step + rank), optim)
        distiller = unwrap(model.distiller)
        terms = distiller.fused_terms
        adapter = distiller.connectors['student']['adm_adapter']
        results.put((rank, terms.compilations, terms.fallback_reason,
                     float(log_vars['teacher.loss_adm_divergence']),
                     torch.cat([p.detach().flatten()
                                for p in adapter.parameters()]).tolist()))
    finally:
        dist.destroy_process_group()


def test_fused_terms_train_under_ddp_with_two_processes(models):
    """Each rank compiles once; DDP keeps the adapters equal on both."""
    ctx = multiprocessing.get_context('fork')
    results = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_ddp_worker, args=(rank, port, results))
        for rank in range(2)
    ]
    for proc in procs:
        proc.start()
    outputs = []
    while len(outputs) < len(procs):
        try:
            outputs.append(results.get(timeout=5))
        except queue.Empty:
            assert all(proc.exitcode in (None, 0) for proc in procs), \
                'a rank failed (its traceback is above)'
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    outputs.sort(key=lambda output: output[0])
    for rank, compilations, reason, divergence, _ in outputs:
        assert (compilations, reason) == (GRAPHS, None), rank
        assert divergence > 0
    # Different data per rank, and the same weights after the update.
    assert outputs[0][3] != outputs[1][3]
    assert outputs[0][4] == outputs[1][4]
