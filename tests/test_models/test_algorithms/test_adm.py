"""DML + ADM on real mmpretrain classifiers: routing, parameters, step."""
import pytest
import torch
from mmengine.optim import OptimWrapperDict

from mmokd.engine import PeerOptimWrapperConstructor
from mmokd.models.distillers import adm_distiller
from mmokd.models.losses import (adm_attention, adm_consensus_loss,
                                 adm_divergence_loss)
from mmokd.registry import MODELS
from tests.toy_models import ADM, batch, dml_config, tiny_classifier


def build(distiller=ADM):
    torch.manual_seed(0)
    return MODELS.build(dml_config(distiller=distiller))


def grads_after(model, peer, term):
    model.zero_grad(set_to_none=True)
    data = model.data_preprocessor(batch(), True)
    losses = model.peer_losses(**data)
    losses[peer][term].backward()
    adapter = model.distiller.connectors['student']['adm_adapter']

    def touched(module):
        return any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters())

    return touched(model.student), touched(model.teacher), touched(adapter)


@pytest.mark.parametrize('peer, term, expected', [
    ('student', 'loss_adm_consensus', (True, False, False)),
    ('teacher', 'loss_adm_divergence', (False, True, False)),
    ('student', 'loss_adm_feat', (True, False, True)),
    ('student', 'loss_dml', (True, False, False)),
])
def test_each_term_reaches_only_its_owner(peer, term, expected):
    assert grads_after(build(), peer, term) == expected


def test_adm_adds_only_the_adapter_parameters():
    n_dml = sum(p.numel() for p in build(None).parameters())
    n_adm = sum(p.numel() for p in build().parameters())
    assert n_adm - n_dml == 64 * 128 + 128  # 1x1 conv weight + bias


def test_logged_terms_and_adapter_trained_with_the_student():
    model = build()
    optim = PeerOptimWrapperConstructor(
        dict(
            student=dict(optimizer=dict(type='SGD', lr=0.1)),
            teacher=dict(optimizer=dict(type='SGD', lr=0.1))))(
                model)
    assert isinstance(optim, OptimWrapperDict)
    adapter = model.distiller.connectors['student']['adm_adapter']
    student_params = {
        id(p)
        for group in optim['student'].optimizer.param_groups
        for p in group['params']
    }
    assert all(id(p) in student_params for p in adapter.parameters())
    before = [p.detach().clone() for p in adapter.parameters()]
    log_vars = model.train_step(batch(), optim)
    for key in ('student.loss_adm_feat', 'student.loss_adm_consensus',
                'teacher.loss_adm_divergence', 'student.loss_dml'):
        assert key in log_vars and torch.isfinite(log_vars[key])
    assert any(not torch.equal(b, p)
               for b, p in zip(before, adapter.parameters()))


@pytest.mark.parametrize('pairs', [1, 2])
def test_attention_is_computed_once_per_pair_and_step(monkeypatch, pairs):
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return adm_attention(*args, **kwargs)

    monkeypatch.setattr(adm_distiller, 'adm_attention', counting)
    model = build_two_teachers() if pairs == 2 else build()
    data = model.data_preprocessor(batch(), True)
    model.peer_losses(**data)
    assert len(calls) == pairs


def test_terms_equal_the_functions_on_the_recorded_features():
    """Consensus and divergence from one attention, through the adapter."""
    model = build()
    data = model.data_preprocessor(batch(), True)
    losses = model.peer_losses(**data)
    student, teacher = model.student, model.teacher
    adapter = model.distiller.connectors['student']['adm_adapter']
    labels = torch.cat([s.gt_label for s in data['data_samples']])
    with torch.no_grad():  # BN in train mode: batch statistics again
        feat_s = student.backbone(data['inputs'])[-1]
        feat_t = teacher.backbone(data['inputs'])[-1]
        attn_co, attn_di = adm_attention(adapter(feat_s), feat_t)
        consensus = 0.5 * adm_consensus_loss(
            feat_s, attn_co, student.head.fc.weight, student.head.fc.bias,
            labels)
        divergence = 0.5 * adm_divergence_loss(
            feat_t, attn_di, teacher.head.fc.weight, teacher.head.fc.bias,
            labels)
    assert torch.allclose(losses['student']['loss_adm_consensus'], consensus)
    assert torch.allclose(losses['teacher']['loss_adm_divergence'], divergence)


def test_missing_connector_names_the_field():
    cfg = dml_config(
        distiller=dict(
            type='mmokd.OnlineDistiller',
            recorders=dict(
                student=dict(f=dict(type='ModuleOutputs', source='backbone'))),
            losses=dict(
                student=dict(loss_f=dict(type='mmokd.ADMFeatureLoss'))),
            loss_forward_mappings=dict(
                student=dict(
                    loss_f=dict(
                        feats_s_aligned=[
                            dict(
                                peer='student', recorder='f', connector='nope')
                        ],
                        feats_t=[dict(peer='student', recorder='f')])))))
    with pytest.raises(ValueError, match='connector'):
        MODELS.build(cfg)


def build_two_teachers():
    cfg = dml_config(
        distiller=dict(
            ADM,
            channels=dict(student=64, teacher=128, teacher2=32),
            pairs=[
                dict(teacher='teacher', student='student'),
                dict(teacher='teacher2', student='student')
            ]))
    cfg['peers']['teacher2'] = tiny_classifier(width=4)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def test_two_teachers_one_student_gets_adm_per_pair():
    model = build_two_teachers()
    assert set(model.distiller.derived_data_names) == {
        f'adm_{kind}_attention_student_{t}'
        for kind in ('consensus', 'divergence')
        for t in ('teacher', 'teacher2')
    }
    data = model.data_preprocessor(batch(), True)
    losses = model.peer_losses(**data)
    assert {
        'loss_adm_consensus_teacher', 'loss_adm_consensus_teacher2',
        'loss_adm_feat_teacher', 'loss_adm_feat_teacher2', 'loss_dml'
    } <= set(losses['student'])
    assert 'loss_adm_divergence_student' in losses['teacher']
    assert 'loss_adm_divergence_student' in losses['teacher2']
    adapters = model.distiller.connectors['student']
    assert set(adapters) == {'adm_adapter_teacher', 'adm_adapter_teacher2'}
    assert adapters['adm_adapter_teacher2'].conv_module.conv.weight.shape \
        == (32, 64, 1, 1)


PROBE = dict(ADM, alpha=1.0, beta=0.0, gamma=0.0, adapter_probe_weight=1.0)


def test_gamma_zero_with_differing_channels_needs_the_probe():
    with pytest.raises(ValueError, match='adapter_probe_weight'):
        build(dict(PROBE, adapter_probe_weight=0.0))


@pytest.mark.parametrize('term, expected', [
    ('loss_adm_probe', (False, False, True)),
    ('loss_adm_consensus', (True, False, False)),
])
def test_adapter_probe_trains_only_the_adapter(term, expected):
    model = build(PROBE)
    assert 'loss_adm_feat' not in model.distiller.losses['student']
    assert grads_after(model, 'student', term) == expected


def test_feature_term_with_stages_reaches_only_the_student_and_adapters():
    """gamma * L_feat over a shallower stage and F: gradient in the
    student (both stages) and both 1x1 adapters, none in the teacher."""
    stage = dict(
        source='backbone.layer3', channels=dict(student=32, teacher=64))
    model = build(dict(ADM, feature_stages=[stage]))
    model.zero_grad(set_to_none=True)
    data = model.data_preprocessor(batch(), True)
    model.peer_losses(**data)['student']['loss_adm_feat'].backward()

    def touched(module):
        return any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters())

    adapters = model.distiller.connectors['student']
    assert touched(adapters['adm_adapter'])
    assert touched(adapters['adm_adapter0'])
    assert touched(model.student.backbone.layer3)
    assert touched(model.student.backbone.layer4)
    assert not touched(model.student.head)
    assert not touched(model.teacher)
