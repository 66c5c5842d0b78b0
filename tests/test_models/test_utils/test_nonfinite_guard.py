"""The non-finite guard (issue 10, 2): a NaN / infinite loss stops
training (or, opted in, skips the update) before any optimizer step, with
a message naming the iteration, peer and term; non-finite weights after an
update stop training; decisions are all-reduced; the AMP loss scaler's own
skipped steps are not failures."""
import uuid

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict

from mmokd.models.utils import nonfinite_guard, nonfinite_tensors
from tests.test_models.test_algorithms import test_gpd
from tests.toy_models import batch
from tests.toy_models import build_dml as build
from tests.toy_models import sgd_dict

NAN = float('nan')


@pytest.fixture(autouse=True)
def fresh_message_hub():
    """A message hub of its own, at runner iteration index 6 (logged as
    iteration 7)."""
    hub = MessageHub.get_instance(f'guard-{uuid.uuid4()}')
    hub.update_info('iter', 6)
    return hub


def params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def buffers(module):
    return {k: v.detach().clone() for k, v in module.named_buffers()}


def changed(before, module):
    now = dict(module.named_parameters())
    return any(not torch.equal(value, now[key])
               for key, value in before.items())


def poison(model, peer, term='loss_dml', steps=None):
    """Makes ``peer``'s ``term`` NaN (in the steps whose 0-based index is
    in ``steps``; all when None), keeping its graph."""
    loss = model.distiller.losses[peer][term]
    forward, calls = loss.forward, []

    def nan_forward(*args, **kwargs):
        calls.append(None)
        value = forward(*args, **kwargs)
        if steps is None or len(calls) - 1 in steps:
            return value * NAN
        return value

    loss.forward = nan_forward


def nan_batch():
    """A batch whose first image holds a NaN pixel: every BatchNorm's
    batch statistics, hence its running statistics, become NaN."""
    data = batch()
    data['inputs'] = [image.float() for image in data['inputs']]
    data['inputs'][0][0, 0, 0] = NAN
    return data


def test_nonfinite_tensors_finds_nan_and_inf_only():
    named = [('huge', torch.full((1000, ), 3.0e38)),
             ('nan', torch.tensor([0.0, NAN])),
             ('inf', torch.tensor([-float('inf')], dtype=torch.float16)),
             ('count', torch.tensor([7])), ('ok', torch.zeros(3)),
             ('huge_half', torch.full((4, ), 6.0e4, dtype=torch.float16)),
             ('nan_double', torch.tensor([NAN], dtype=torch.float64)),
             ('inf_bf16', torch.tensor([1.0, float('inf')],
                                       dtype=torch.bfloat16)),
             ('nan_inf', torch.tensor([-float('inf'), NAN, 1.0]))]
    assert nonfinite_tensors(named) == [
        'nan', 'inf', 'nan_double', 'inf_bf16', 'nan_inf'
    ]
    assert nonfinite_tensors([]) == []


def test_stop_raises_before_any_update_naming_iteration_peer_and_term():
    model = build()
    poison(model, 'student')
    before = {name: params(model.peer(name)) for name in model.peer_names}
    with pytest.raises(FloatingPointError) as error:
        model.train_step(batch(), sgd_dict(model))
    message = str(error.value)
    assert 'Non-finite loss at iteration 7: peer "student" term ' \
        '"loss_dml".' in message
    assert 'teacher' not in message.split('.')[0]
    assert "policy='stop'" in message and 'last_checkpoint' in message
    for name in model.peer_names:  # the finite teacher did not step either
        assert not changed(before[name], model.peer(name)), name


def test_default_guard_is_stop_for_every_algorithm():
    assert build().nonfinite_guard.policy == 'stop'
    assert test_gpd.build().nonfinite_guard.policy == 'stop'


def test_skip_leaves_out_only_the_nonfinite_peer():
    model = build(nonfinite_guard=dict(policy='skip'))
    poison(model, 'student')
    before = {name: params(model.peer(name)) for name in model.peer_names}
    log_vars = model.train_step(batch(), sgd_dict(model))
    assert torch.isnan(log_vars['student.loss_dml'])
    assert not changed(before['student'], model.student)
    assert changed(before['teacher'], model.teacher)
    assert model.nonfinite_guard.consecutive == 1


def test_skip_restores_the_buffers_a_nonfinite_forward_changed():
    model = build(nonfinite_guard=dict(policy='skip'))
    before = {name: buffers(model.peer(name)) for name in model.peer_names}
    model.train_step(nan_batch(), sgd_dict(model))
    for name in model.peer_names:
        now = dict(model.peer(name).named_buffers())
        assert all(torch.equal(v, now[k]) for k, v in before[name].items())
    # The next, finite step trains as usual and resets the count.
    student = params(model.student)
    model.train_step(batch(), sgd_dict(model))
    assert changed(student, model.student)
    assert model.nonfinite_guard.consecutive == 0


def test_skip_stops_at_the_k_plus_first_nonfinite_step_in_a_row():
    model = build(nonfinite_guard=dict(policy='skip', max_consecutive_skips=2))
    # Steps 0, 1 NaN, 2 finite (resets), 3, 4 NaN skipped, 5 NaN stops.
    poison(model, 'teacher', steps={0, 1, 3, 4, 5})
    optim = sgd_dict(model)
    for _ in range(5):
        model.train_step(batch(), optim)
    with pytest.raises(
            FloatingPointError,
            match='3 non-finite steps in a '
            'row, max_consecutive_skips=2'):
        model.train_step(batch(), optim)


def test_single_optimizer_layout_is_guarded():
    model = build()
    poison(model, 'teacher')
    before = params(model)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(
            FloatingPointError, match='peer "teacher" term '
            '"loss_dml"'):
        model.train_step(batch(), optim)
    assert not changed(before, model)


def test_nonfinite_weights_after_a_finite_loss_stop_training():
    model = build()
    optim = sgd_dict(model)
    optim['teacher'].optimizer.param_groups[0]['lr'] = float('inf')
    with pytest.raises(FloatingPointError) as error:
        model.train_step(batch(), optim)
    message = str(error.value)
    assert message.startswith('Non-finite weights at iteration 7 after the '
                              'update: peer "teacher" [')
    assert 'student' not in message.split('although')[0]


def test_decision_is_all_reduced_over_ranks(monkeypatch):
    """Finite here, non-finite on another rank: this rank stops too."""

    def other_rank_nan(flags):
        flags[-1] += 1  # the last term: the teacher's loss_dml

    monkeypatch.setattr(nonfinite_guard, 'all_reduce', other_rank_nan)
    model = build()
    with pytest.raises(
            FloatingPointError, match='peer "teacher" term "loss_dml"'):
        model.train_step(batch(), sgd_dict(model))


def test_amp_scaler_skipped_steps_are_not_failures(monkeypatch):
    """A finite loss whose scaled gradients overflow: the loss scaler skips
    the step and the guard lets training go on."""
    monkeypatch.setattr(
        'mmengine.optim.optimizer.amp_optimizer_wrapper.is_cuda_available',
        lambda: True)
    model = build()

    def amp(peer, scale):
        wrapper = AmpOptimWrapper(
            optimizer=torch.optim.SGD(model.peer(peer).parameters(), lr=0.1))
        wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=scale)
        return wrapper

    optim = OptimWrapperDict(
        student=amp('student', float('inf')), teacher=amp('teacher', 1.0))
    before = {name: params(model.peer(name)) for name in model.peer_names}
    log_vars = model.train_step(batch(), optim)
    assert torch.isfinite(log_vars['loss'])
    assert not changed(before['student'], model.student)  # scaler skipped
    assert changed(before['teacher'], model.teacher)


def test_gpd_stop_and_skip_leave_the_store_unchanged():
    for policy in ('stop', 'skip'):
        model = test_gpd.build(nonfinite_guard=dict(policy=policy))
        forward = model.dt_loss.forward
        model.dt_loss.forward = lambda *a, **k: forward(*a, **k) * NAN
        before = params(model)
        if policy == 'stop':
            with pytest.raises(
                    FloatingPointError,
                    match='peer "student" term "loss_gpd"'):
                model.train_step(batch(), test_gpd.sgd(model))
        else:
            model.train_step(batch(), test_gpd.sgd(model))
            assert all(p.grad is None or not p.grad.any()
                       for p in model.parameters())
        assert not changed(before, model), policy
