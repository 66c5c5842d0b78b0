"""OnlineDistill / DML on real mmpretrain classifiers (CPU)."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmokd.registry import MODELS
from tests.toy_models import batch
from tests.toy_models import build_dml as build
from tests.toy_models import dml_config, sgd_dict, tiny_classifier


def params(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_train_step_updates_every_peer_and_logs_their_losses():
    model = build()
    before = {name: params(model.peer(name)) for name in model.peer_names}
    log_vars = model.train_step(batch(), sgd_dict(model))
    for name in model.peer_names:
        after = model.peer(name).state_dict()
        assert any(not torch.equal(before[name][k], after[k])
                   for k in before[name] if k.endswith('weight'))
        assert f'{name}.loss_dml' in log_vars
        assert f'{name}.loss_task' in log_vars
    assert torch.allclose(log_vars['loss'],
                          log_vars['student.loss'] + log_vars['teacher.loss'])


def test_bn_of_every_peer_is_in_train_mode():
    model = build()
    model.train()
    assert all(m.training for m in model.modules()
               if isinstance(m, torch.nn.BatchNorm2d))


def test_identical_peers_have_zero_kd_and_stay_identical():
    cfg = dml_config()
    cfg['peers']['teacher'] = copy.deepcopy(cfg['peers']['student'])
    model = MODELS.build(cfg)
    model.teacher.load_state_dict(model.student.state_dict())
    optim = sgd_dict(model)
    for step in range(3):
        log_vars = model.train_step(batch(seed=step), optim)
        if step == 0:
            assert log_vars['student.loss_dml'].item() == pytest.approx(
                0.0, abs=1e-7)
    for key, value in model.student.state_dict().items():
        assert torch.equal(value, model.teacher.state_dict()[key]), key


def test_peer_losses_reach_only_their_owner():
    model = build()
    data = model.data_preprocessor(batch(), True)
    losses = model.peer_losses(**data)
    sum(losses['student'].values()).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.student.parameters())


def test_kd_term_equals_hand_formula():
    model = build()
    data = model.data_preprocessor(batch(), True)
    losses = model.peer_losses(**data)
    with torch.no_grad():
        z_s = model.student(data['inputs'], mode='tensor')
        z_t = model.teacher(data['inputs'], mode='tensor')
    p_t = z_t.softmax(1)
    expected = (p_t * (p_t.log() - z_s.log_softmax(1))).sum(1).mean()
    assert losses['student']['loss_dml'].item() == pytest.approx(
        expected.item(), rel=1e-4)


def test_three_peers_average_their_kd_terms():
    cfg = dml_config()
    cfg['peers']['net3'] = tiny_classifier(width=4)
    model = MODELS.build(cfg)
    data = model.data_preprocessor(batch(), True)
    losses = model.peer_losses(**data)
    from mmokd.models.losses import dml_kl
    with torch.no_grad():
        z = {
            n: model.peer(n)(data['inputs'], mode='tensor')
            for n in model.peer_names
        }
    expected = (dml_kl(z['net3'], z['student']) +
                dml_kl(z['net3'], z['teacher'])) / 2
    assert losses['net3']['loss_dml'].item() == pytest.approx(
        expected.item(), rel=1e-4)


def test_single_optimizer_layout_trains_all_peers():
    model = build()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = params(model.teacher)
    log_vars = model.train_step(batch(), optim)
    assert 'teacher.loss_dml' in log_vars and 'student.loss_task' in log_vars
    assert any(not torch.equal(before[k],
                               model.teacher.state_dict()[k]) for k in before
               if k.endswith('weight'))


def test_predict_uses_the_evaluated_peer():
    model = build().eval()
    data = model.data_preprocessor(batch(), False)
    with torch.no_grad():
        student = model(data['inputs'], mode='tensor')
        with model.evaluating('teacher'):
            teacher = model(data['inputs'], mode='tensor')
        direct = model.teacher(data['inputs'], mode='tensor')
    assert torch.equal(teacher, direct)
    assert not torch.equal(student, teacher)
    assert model.eval_peer == 'student'


def test_state_dict_keys_are_per_peer():
    keys = build().state_dict().keys()
    assert {k.split('.')[0] for k in keys} == {'student', 'teacher'}


@pytest.mark.parametrize('change, field', [
    (lambda c: c['peers']['teacher']['head'].update(num_classes=7),
     'different numbers of classes'),
    (lambda c: c.update(logits='head.nonexistent'),
     'recorders.student.logits.source'),
    (lambda c: c.update(student='net9'), 'model.student'),
    (lambda c: c.update(
        distiller=dict(
            type='mmokd.OnlineDistiller',
            losses=dict(ghost=dict(loss_x=dict(type='mmokd.DMLLoss'))))),
     'model.distiller.losses.ghost'),
    (lambda c: c.update(
        distiller=dict(
            type='mmokd.OnlineDistiller',
            losses=dict(student=dict(loss_x=dict(type='mmokd.DMLLoss'))),
            loss_forward_mappings=dict(
                student=dict(
                    loss_x=dict(
                        preds_S=dict(peer='student', recorder='logits'),
                        preds_T=dict(peer='ghost', recorder='logits')))))),
     'loss_forward_mappings.student.loss_x.preds_T.peer'),
])
def test_bad_configs_name_the_field(change, field):
    cfg = dml_config()
    change(cfg)
    with pytest.raises(ValueError, match=field.replace('.', r'\.')):
        MODELS.build(cfg)


def test_optimizer_keys_must_match_peers():
    model = build()
    optim = OptimWrapperDict(
        student=OptimWrapper(
            torch.optim.SGD(model.student.parameters(), lr=0.1)))
    with pytest.raises(ValueError, match='optim_wrapper'):
        model.train_step(batch(), optim)
