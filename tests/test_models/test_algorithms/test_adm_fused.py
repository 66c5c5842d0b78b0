"""ADM's compiled terms (``fuse_terms=True``) against the eager path.

One compiled model is shared by the tests (compiling ADM's four graphs
takes tens of seconds on a cold Inductor cache).
"""
import copy

import pytest
import torch
from mmengine.logging import MMLogger

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
