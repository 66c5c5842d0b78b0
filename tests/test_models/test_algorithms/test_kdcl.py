"""KDCL on real mmpretrain classifiers (CPU)."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict

import mmokd.models.algorithms.kdcl as kdcl_module
from mmokd.models.losses import kdcl_ensemble, kdcl_error_gram
from mmokd.registry import MODELS
from tests.toy_models import batch, tiny_classifier


def kdcl_config(num_peers=2, **kwargs):
    names = ['student', 'teacher', 'assistant'][:num_peers]
    cfg = dict(
        type='mmokd.KDCL',
        peers={
            name: tiny_classifier(width=8 * (i + 1))
            for i, name in enumerate(names)
        },
        logits='head.fc',
        ensemble_strategy='minlogit',
        tau=2.0,
        loss_weight=0.5,
        data_preprocessor=dict(
            type='mmokd.MultiViewClsDataPreprocessor',
            num_views=num_peers,
            num_classes=10))
    cfg.update(kwargs)
    return cfg


def build(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(kdcl_config(**kwargs))


def multi_view_batch(num_views=2, seed=0):
    """``num_views`` different images per sample, collated like
    ``pseudo_collate`` does: one list of images per view."""
    views = [batch(seed=seed + v) for v in range(num_views)]
    data = views[0]
    data['inputs'] = [v['inputs'] for v in views]
    return data


def sgd_dict(model):
    return OptimWrapperDict(
        **{
            name:
            OptimWrapper(
                torch.optim.SGD(model.peer(name).parameters(), lr=0.1))
            for name in model.peer_names
        })


def hand_kl(target_logits, learner_logits, tau):
    p_t = (target_logits / tau).softmax(1)
    log_p_s = (learner_logits / tau).log_softmax(1)
    return tau**2 * float((p_t * (p_t.log() - log_p_s)).sum(1).mean())


@pytest.mark.parametrize('num_peers', [2, 3])
def test_each_network_learns_from_the_shared_minlogit_ensemble(num_peers):
    model = build(num_peers=num_peers)
    data = model.data_preprocessor(multi_view_batch(num_peers), True)
    losses = model.peer_losses(**data)
    logits = [model.record(n, 'logits').detach() for n in model.peer_names]
    labels = torch.cat([s.gt_label for s in data['data_samples']])
    z_t = torch.stack([
        z - z[torch.arange(4), labels][:, None] for z in logits
    ]).min(0).values
    for name, z in zip(model.peer_names, logits):
        assert float(losses[name]['loss_kdcl']) == pytest.approx(
            0.5 * hand_kl(z_t, z, 2.0), rel=1e-5)


def test_each_peer_gets_its_own_view():
    model = build()
    data = model.data_preprocessor(multi_view_batch(), True)
    assert isinstance(data['inputs'], list) and len(data['inputs']) == 2
    assert not torch.equal(data['inputs'][0], data['inputs'][1])
    model.peer_losses(**data)
    for name, view in zip(model.peer_names, data['inputs']):
        direct = model.peer(name)(view, mode='tensor')
        assert torch.allclose(model.record(name, 'logits'), direct, atol=1e-6)


def test_ensemble_is_computed_once_per_step(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return kdcl_ensemble(*args, **kwargs)

    monkeypatch.setattr(kdcl_module, 'kdcl_ensemble', counting)
    model = build(num_peers=3)
    model.train_step(multi_view_batch(3), sgd_dict(model))
    assert len(calls) == 1


def test_k5_terms_reach_only_their_owner():
    model = build()
    data = model.data_preprocessor(multi_view_batch(), True)
    losses = model.peer_losses(**data)
    losses['student']['loss_kdcl'].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.student.parameters())


@pytest.mark.parametrize('strategy', ['minlogit', 'mean'])
def test_k6_identical_networks_same_view_zero_kd_separate_views_not(strategy):
    cfg = kdcl_config(ensemble_strategy=strategy)
    cfg['peers']['teacher'] = copy.deepcopy(cfg['peers']['student'])
    model = MODELS.build(cfg)
    model.teacher.load_state_dict(model.student.state_dict())
    same = model.train_step(batch(), sgd_dict(model))
    assert float(same['student.loss_kdcl']) == pytest.approx(0.0, abs=1e-6)
    model.teacher.load_state_dict(model.student.state_dict())
    views = model.train_step(multi_view_batch(), sgd_dict(model))
    assert float(views['student.loss_kdcl']) > 1e-4


def test_train_step_updates_every_network_and_logs_terms():
    model = build(num_peers=3)
    before = {
        n: [p.detach().clone() for p in model.peer(n).parameters()]
        for n in model.peer_names
    }
    log_vars = model.train_step(multi_view_batch(3), sgd_dict(model))
    for name in model.peer_names:
        assert f'{name}.loss_kdcl' in log_vars
        assert f'{name}.loss_task' in log_vars
        assert any(not torch.equal(a, b)
                   for a, b in zip(before[name],
                                   model.peer(name).parameters()))


def test_general_weights_are_a_buffer_used_by_the_ensemble():
    model = build(ensemble_strategy='general')
    assert model.general_weights.tolist() == pytest.approx([0.5, 0.5])
    assert 'general_weights' in model.state_dict()
    model.general_weights.copy_(torch.tensor([0.8, 0.2]))
    data = model.data_preprocessor(multi_view_batch(), True)
    losses = model.peer_losses(**data)
    z = [model.record(n, 'logits').detach() for n in model.peer_names]
    z_t = 0.8 * z[0] + 0.2 * z[1]
    assert float(losses['teacher']['loss_kdcl']) == pytest.approx(
        0.5 * hand_kl(z_t, z[1], 2.0), rel=1e-5)
    assert 'general_weights' not in build().state_dict()


def test_held_out_error_gram_matches_direct_predictions():
    model = build(ensemble_strategy='general')
    model.eval()
    batches = [batch(seed=1), batch(seed=2)]
    gram, count = model.held_out_error_gram(batches)
    expected = torch.zeros(2, 2, dtype=torch.float64)
    for data in batches:
        data = model.data_preprocessor(data, False)
        logits = [
            model.peer(n)(data['inputs'], mode='tensor')
            for n in model.peer_names
        ]
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        expected += kdcl_error_gram(logits, labels)[0]
    assert torch.allclose(gram, expected)
    assert float(count) == 8


def test_bad_configs_name_the_field():
    with pytest.raises(ValueError, match='model.ensemble_strategy'):
        build(ensemble_strategy='median')
    with pytest.raises(ValueError, match='model.data_preprocessor.num_views'):
        MODELS.build(
            kdcl_config(
                data_preprocessor=dict(
                    type='mmokd.MultiViewClsDataPreprocessor', num_views=3)))
    model = build()
    data = model.data_preprocessor(batch(), True)
    with pytest.raises(ValueError, match='views per sample'):
        model.peer_losses([data['inputs']] * 3, data['data_samples'])


def test_adm_terms_merge_into_kdcl():
    from tests.toy_models import ADM
    model = build(distiller=ADM)
    log_vars = model.train_step(batch(), sgd_dict(model))
    for term in ('student.loss_kdcl', 'teacher.loss_kdcl',
                 'student.loss_adm_consensus', 'student.loss_adm_feat',
                 'teacher.loss_adm_divergence'):
        assert term in log_vars, term


def test_general_weights_hook_needs_the_general_strategy():
    from types import SimpleNamespace

    from mmokd.engine import KDCLGeneralWeightsHook
    hook = KDCLGeneralWeightsHook(dataloader=dict())
    with pytest.raises(ValueError, match='ensemble_strategy="general"'):
        hook.before_train(SimpleNamespace(model=build()))


def kdcl_terms(model):
    return [
        losses['loss_kdcl'] for losses in model.distiller.losses.values()
    ]


def test_tau_and_lambda_inherited_from_a_dml_config():
    """A KDCL config over a DML one reads DML's ``dml_loss``; KDCL's own
    ``tau`` / ``loss_weight`` take precedence."""
    dml_loss = dict(type='DMLLoss', tau=3.0, loss_weight=0.25,
                    peer_reduction='sum')
    cfg = kdcl_config(dml_loss=dml_loss)
    del cfg['tau'], cfg['loss_weight']
    for term in kdcl_terms(MODELS.build(cfg)):
        assert (term.tau, term.loss_weight) == (3.0, 0.25)
    # kdcl_config sets tau=2.0, loss_weight=0.5 on KDCL itself.
    for term in kdcl_terms(MODELS.build(kdcl_config(dml_loss=dml_loss))):
        assert (term.tau, term.loss_weight) == (2.0, 0.5)


@pytest.mark.parametrize('dml_loss', [
    dict(type='KLDivergence', tau=1.0),
    dict(type='DMLLoss', tau=1.0, temperature=2.0)
])
def test_dml_loss_of_another_kind_is_refused(dml_loss):
    with pytest.raises(ValueError, match='model.dml_loss'):
        build(dml_loss=dml_loss)


def test_bad_inherited_tau_names_dml_loss():
    cfg = kdcl_config(dml_loss=dict(type='DMLLoss', tau=0.0))
    del cfg['tau']
    with pytest.raises(ValueError, match=r'model\.dml_loss\.tau'):
        MODELS.build(cfg)
    with pytest.raises(ValueError, match=r'model\.tau'):
        build(tau=-1.0)
