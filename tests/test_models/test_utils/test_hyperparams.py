"""Every numeric (and boolean) hyper-parameter of mmokd's registered
losses, distillers, algorithms, hooks and the non-finite guard is checked
at build, naming the config field and what is allowed (issue 10, 2)."""
import math
import re

import pytest
import torch

from mmokd.models.utils import (check_flag, check_fraction, check_integer,
                                check_nonnegative, check_positive,
                                config_field, field_of)
from mmokd.registry import HOOKS, MODELS, TASK_UTILS
from tests.toy_models import ADM, dml_config, tiny_classifier

NAN, INF = float('nan'), float('inf')

GPD = dict(
    type='mmokd.GPD',
    architecture=tiny_classifier(),
    gpd=dict(
        ratio=2,
        noise_std=0.0,
        input_boundary=['backbone.conv1'],
        output_boundary=['head.fc']),
    logits='head.fc',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor', num_classes=10))


def loss(type_, **kwargs):
    return lambda: MODELS.build(dict(type=f'mmokd.{type_}', **kwargs))


def dml(**kwargs):
    return lambda: MODELS.build(dml_config(**kwargs))


def kdcl(**kwargs):
    cfg = dml_config(type='mmokd.KDCL', **kwargs)
    del cfg['dml_loss']
    return lambda: MODELS.build(cfg)


def switokd(**kwargs):
    return lambda: MODELS.build(
        dml_config(type='mmokd.SwitOKD', teacher='teacher', **kwargs))


def adm(**kwargs):
    return lambda: MODELS.build(dml_config(distiller=dict(ADM, **kwargs)))


def gpd(**kwargs):
    return lambda: MODELS.build(dict(GPD, **kwargs))


def guard(**kwargs):
    return lambda: TASK_UTILS.build(
        dict(type='mmokd.NonFiniteGuard', **kwargs))


def kdcl_hook(**kwargs):
    return lambda: HOOKS.build(
        dict(type='mmokd.KDCLGeneralWeightsHook', dataloader=dict(), **kwargs))


def distilled_term(type_='mmokd.DMLLoss', **kwargs):
    """An OnlineDistill whose distiller owns a ``type_`` term ``loss_kd``."""
    logits = dict(type='ModuleOutputs', source='head.fc')
    cfg = dml_config(type='mmokd.OnlineDistill')
    del cfg['logits'], cfg['dml_loss']
    cfg['distiller'] = dict(
        type='mmokd.OnlineDistiller',
        recorders=dict(
            student=dict(logits=logits), teacher=dict(logits=logits)),
        losses=dict(student=dict(loss_kd=dict(type=type_, **kwargs))),
        loss_forward_mappings=dict(
            student=dict(
                loss_kd=dict(
                    preds_S=dict(peer='student', recorder='logits'),
                    preds_T=dict(peer='teacher', recorder='logits')))))
    return lambda: MODELS.build(cfg)


POSITIVE = 'a finite number > 0'
NONNEGATIVE = 'a finite number >= 0'
FRACTION = 'a number in [0, 1]'
INTEGER = 'an integer'
FLAG = 'True or False'

#: (builder, field named in the error, what is allowed).
REFUSED = [
    # DMLLoss (issue 10's four cases and more), alone and inside a model.
    (loss('DMLLoss', loss_weight=-1), 'DMLLoss.loss_weight', NONNEGATIVE),
    (loss('DMLLoss', loss_weight=NAN), 'DMLLoss.loss_weight', NONNEGATIVE),
    (loss('DMLLoss', loss_weight=INF), 'DMLLoss.loss_weight', NONNEGATIVE),
    (loss('DMLLoss', tau=0), 'DMLLoss.tau', POSITIVE),
    (loss('DMLLoss', tau=-2), 'DMLLoss.tau', POSITIVE),
    (loss('DMLLoss', tau=NAN), 'DMLLoss.tau', POSITIVE),
    (loss('DMLLoss', tau='1'), 'DMLLoss.tau', POSITIVE),
    (loss('DMLLoss', ignore_index=2.5), 'DMLLoss.ignore_index', INTEGER),
    (dml(dml_loss=dict(type='mmokd.DMLLoss', tau=0)), 'model.dml_loss.tau',
     POSITIVE),
    (dml(dml_loss=dict(type='mmokd.DMLLoss', loss_weight=-1)),
     'model.dml_loss.loss_weight', NONNEGATIVE),
    (distilled_term(tau=-2), 'model.distiller.losses.student.loss_kd.tau',
     POSITIVE),
    (distilled_term(loss_weight=NAN),
     'model.distiller.losses.student.loss_kd.loss_weight', NONNEGATIVE),
    # MMRazor's losses: their tau and loss_weight, checked once built.
    (distilled_term('KLDivergence', tau=0),
     'model.distiller.losses.student.loss_kd.tau', POSITIVE),
    (dml(dml_loss=dict(type='KLDivergence', loss_weight=-1)),
     'model.dml_loss.loss_weight', NONNEGATIVE),
    (gpd(
        teacher=tiny_classifier(width=16),
        static_kd=dict(type='DKDLoss', tau=NAN, alpha=1,
                       beta=0.5)), 'model.static_kd.tau', POSITIVE),
    # KDCL: its loss and the algorithm's own fields.
    (loss('KDCLLoss', tau=0), 'KDCLLoss.tau', POSITIVE),
    (loss('KDCLLoss', loss_weight=-1), 'KDCLLoss.loss_weight', NONNEGATIVE),
    (loss('KDCLLoss', ignore_index=None), 'KDCLLoss.ignore_index', INTEGER),
    (kdcl(tau=0), 'model.tau', POSITIVE),
    (kdcl(tau=INF), 'model.tau', POSITIVE),
    (kdcl(loss_weight=-1), 'model.loss_weight', NONNEGATIVE),
    (kdcl(loss_weight=NAN), 'model.loss_weight', NONNEGATIVE),
    (kdcl(ignore_index=True), 'model.ignore_index', INTEGER),
    # SwitOKD's switches: a string would count as True.
    (switokd(require_teacher_better='false'), 'model.require_teacher_better',
     FLAG),
    (switokd(strict_pause=0), 'model.strict_pause', FLAG),
    # ADM: alpha / beta / gamma, probe weight, epsilon, channel counts.
    (loss('ADMConsensusLoss',
          loss_weight=-0.1), 'ADMConsensusLoss.loss_weight', NONNEGATIVE),
    (loss('ADMConsensusLoss', tau=0), 'ADMConsensusLoss.tau', POSITIVE),
    (loss('ADMDivergenceLoss',
          loss_weight=NAN), 'ADMDivergenceLoss.loss_weight', NONNEGATIVE),
    (loss('ADMFeatureLoss',
          loss_weight=-1), 'ADMFeatureLoss.loss_weight', NONNEGATIVE),
    (adm(alpha=-0.01), 'model.distiller.alpha', NONNEGATIVE),
    (adm(beta=NAN), 'model.distiller.beta', NONNEGATIVE),
    (adm(gamma=INF), 'model.distiller.gamma', NONNEGATIVE),
    (adm(adapter_probe_weight=-1), 'model.distiller.adapter_probe_weight',
     NONNEGATIVE),
    (adm(eps=0), 'model.distiller.eps', POSITIVE),
    (adm(ignore_index=255.0), 'model.distiller.ignore_index', INTEGER),
    (adm(channels=dict(student=0, teacher=128)),
     'model.distiller.channels.student', 'an integer >= 1'),
    (adm(channels=dict(student=64, teacher=128.0)),
     'model.distiller.channels.teacher', 'an integer >= 1'),
    (adm(feature_stages=[
        dict(source='backbone.layer3', channels=dict(student=-32, teacher=64))
    ]), 'model.distiller.feature_stages[0].channels.student',
     'an integer >= 1'),
    # GPD: its loss, the expansion's noise, the teacher switch, the guard.
    (loss('GPDSoftCELoss',
          loss_weight=-3), 'GPDSoftCELoss.loss_weight', NONNEGATIVE),
    (loss('GPDSoftCELoss',
          label_smoothing=1.5), 'GPDSoftCELoss.label_smoothing', FRACTION),
    (loss('GPDSoftCELoss',
          label_smoothing=NAN), 'GPDSoftCELoss.label_smoothing', FRACTION),
    (gpd(dt_loss=dict(type='mmokd.GPDSoftCELoss', loss_weight=NAN)),
     'model.dt_loss.loss_weight', NONNEGATIVE),
    (gpd(gpd=dict(GPD['gpd'], noise_std=-1e-6)), 'model.gpd.noise_std',
     NONNEGATIVE),
    (gpd(gpd=dict(GPD['gpd'], noise_std=NAN)), 'model.gpd.noise_std',
     NONNEGATIVE),
    (gpd(teacher_norm_eval='yes'), 'model.teacher_norm_eval', FLAG),
    (gpd(nonfinite_guard=dict(policy='ignore')),
     'model.nonfinite_guard.policy', "('stop', 'skip')"),
    (dml(nonfinite_guard=dict(policy='skip', max_consecutive_skips=0)),
     'model.nonfinite_guard.max_consecutive_skips', 'an integer >= 1'),
    (guard(max_consecutive_skips=2.0), 'NonFiniteGuard.max_consecutive_skips',
     'an integer >= 1'),
    # KDCL-General's hook.
    (kdcl_hook(eps=0), 'KDCLGeneralWeightsHook.eps', POSITIVE),
    (kdcl_hook(interval=0), 'KDCLGeneralWeightsHook.interval',
     'an integer >= 1'),
    (kdcl_hook(by_epoch='False'), 'KDCLGeneralWeightsHook.by_epoch', FLAG),
]


@pytest.mark.parametrize(
    'builder, field, allowed', REFUSED, ids=[r[1] for r in REFUSED])
def test_bad_setting_is_refused_naming_the_field(builder, field, allowed):
    with pytest.raises(ValueError) as error:
        builder()
    message = str(error.value)
    assert re.search(re.escape(field) + r'\b', message), message
    assert allowed in message, message


@pytest.mark.parametrize('builder, attribute, value', [
    (loss('DMLLoss', tau=0.5, loss_weight=0), 'loss_weight', 0),
    (loss('KDCLLoss', tau=4, loss_weight=2.5), 'tau', 4),
    (loss('ADMConsensusLoss', loss_weight=0.01, form='kd', tau=2), 'tau', 2),
    (loss('ADMDivergenceLoss', loss_weight=0.6), 'loss_weight', 0.6),
    (loss('ADMFeatureLoss', loss_weight=0), 'loss_weight', 0),
    (loss('GPDSoftCELoss', label_smoothing=1.0), 'label_smoothing', 1.0),
    (guard(policy='skip', max_consecutive_skips=1), 'policy', 'skip'),
    (kdcl_hook(eps=1e-3, interval=2, by_epoch=False), 'interval', 2),
])
def test_good_setting_is_kept(builder, attribute, value):
    assert getattr(builder(), attribute) == value


def test_good_algorithm_settings_build():
    kdcl_model = kdcl(tau=2.0, loss_weight=0.0, ignore_index=-1)()
    term = kdcl_model.distiller.losses['student']['loss_kdcl']
    assert (term.tau, term.loss_weight, term.ignore_index) == (2.0, 0.0, -1)
    switokd_model = switokd(require_teacher_better=False, strict_pause=False)()
    assert switokd_model.strict_pause is False
    adm_model = adm(alpha=0.0, beta=0.0, gamma=0.5, eps=1e-3)()
    assert set(adm_model.distiller.losses['student']) == {
        'loss_dml', 'loss_adm_feat'
    }
    assert adm_model.nonfinite_guard.policy == 'stop'
    gpd_model = gpd(
        teacher_norm_eval=False, nonfinite_guard=dict(policy='skip'))()
    assert gpd_model.nonfinite_guard.policy == 'skip'


def test_field_of_names_the_class_or_the_config_entry():
    owner = torch.nn.Identity()
    assert field_of(owner, 'tau') == 'Identity.tau'
    with config_field('model.dml_loss'):
        assert field_of(owner, 'tau') == 'model.dml_loss.tau'
        with config_field('model.distiller.losses.student.loss_dml'):
            assert field_of(owner, 'tau') == \
                'model.distiller.losses.student.loss_dml.tau'
        assert field_of(owner, 'tau') == 'model.dml_loss.tau'
    assert field_of(owner, 'tau') == 'Identity.tau'


def test_checks_return_good_values_and_refuse_bad_ones():
    assert check_nonnegative(0, 'f') == 0
    assert check_positive(1e-12, 'f') == 1e-12
    assert check_fraction(0.0, 'f') == 0.0
    assert check_integer(-1, 'f') == -1
    assert check_integer(3, 'f', 3) == 3
    assert check_flag(False, 'f') is False
    for check, value in [(check_nonnegative, -1e-12),
                         (check_nonnegative, -INF), (check_positive, 0.0),
                         (check_positive, True), (check_fraction, 1.0 + 1e-9),
                         (check_integer, math.pi), (check_flag, 1)]:
        with pytest.raises(ValueError, match=r'^f must be .*, got '):
            check(value, 'f')
