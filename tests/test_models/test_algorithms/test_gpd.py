"""GPD (Guo et al., ICLR 2025) on real mmpretrain classifiers (CPU):
loss composition, detached DT target, frozen static teacher, the
reference's order of operations, initialisation order, peers and export
(the authors' training step: DT forward and backward, then the
student's, then one clipped update)."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmokd.models.gpd import gpd_mode
from mmokd.registry import MODELS
from mmokd.utils import export_peer, load_checkpoint_safely
from tests.toy_models import batch, tiny_classifier

GPD_EXPAND = dict(
    ratio=2,
    noise_std=0.0,
    input_boundary=['backbone.conv1'],
    output_boundary=['head.fc'])


def gpd_config(**kwargs):
    cfg = dict(
        type='mmokd.GPD',
        architecture=tiny_classifier(),
        gpd=GPD_EXPAND,
        logits='head.fc',
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor', num_classes=10))
    cfg.update(kwargs)
    return cfg


def teacher_kwargs(**kwargs):
    defaults = dict(
        teacher=tiny_classifier(width=16),
        static_kd=dict(
            type='DKDLoss', tau=1, alpha=1, beta=0.5, loss_weight=1))
    return dict(defaults, **kwargs)


def build(seed=0, **kwargs):
    torch.manual_seed(seed)
    return MODELS.build(gpd_config(**kwargs))


def sgd(model, lr=0.1, **kwargs):
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr), **kwargs)


def preprocessed(model, seed=0):
    data = model.data_preprocessor(batch(seed=seed), True)
    return data['inputs'], data['data_samples']


def numpy_sce(logits_s, logits_dt, eps=0.1):
    """Mean of ``(1 - eps) H(p_D, p_S) + eps mean_c(-log p_S)``."""
    z_s = logits_s.double().numpy()
    z_d = logits_dt.double().numpy()
    log_p_s = z_s - z_s.max(1, keepdims=True)
    log_p_s -= np.log(np.exp(log_p_s).sum(1, keepdims=True))
    p_d = np.exp(z_d - z_d.max(1, keepdims=True))
    p_d /= p_d.sum(1, keepdims=True)
    per_row = (1 - eps) * -(p_d * log_p_s).sum(1) + eps * -log_p_s.mean(1)
    return float(per_row.mean())


def test_total_is_ce_dt_plus_ce_s_plus_three_sce():
    model = build()
    model.train()
    # An update first, so that the DT and the student differ.
    model.train_step(batch(seed=1), sgd(model))
    inputs, samples = preprocessed(model)
    labels = model.task.labels(samples)
    with torch.no_grad():
        with gpd_mode(model.store, 'dynamic_teacher'):
            z_dt = model.store(inputs, mode='tensor')
        with gpd_mode(model.store, 'student'):
            z_s = model.store(inputs, mode='tensor')
    assert not torch.allclose(z_dt, z_s)
    ce_dt = F.cross_entropy(z_dt, labels).item()
    ce_s = F.cross_entropy(z_s, labels).item()
    sce = numpy_sce(z_s, z_dt)
    log_vars = model.train_step(batch(), sgd(model))
    assert set(log_vars) >= {'loss_ce_dt', 'loss_ce_s', 'loss_gpd'}
    assert not any('kd' in key for key in log_vars)
    assert log_vars['loss_ce_dt'].item() == pytest.approx(ce_dt, rel=1e-5)
    assert log_vars['loss_ce_s'].item() == pytest.approx(ce_s, rel=1e-5)
    assert log_vars['loss_gpd'].item() == pytest.approx(3 * sce, rel=1e-5)
    assert log_vars['loss'].item() == pytest.approx(
        ce_dt + ce_s + 3 * sce, rel=1e-5)
    assert log_vars['loss_dt'].item() == pytest.approx(ce_dt, rel=1e-5)


def store_grads(model, dt_weight):
    model = copy.deepcopy(model)
    model.dt_loss.loss_weight = dt_weight
    inputs, samples = preprocessed(model)
    sum(model.loss(inputs, samples).values()).backward()
    return {n: p.grad for n, p in model.store.named_parameters()}


def test_kd_target_is_detached():
    """A larger DT -> student weight changes the gradient of the student's
    slices only; rows that only the DT uses keep theirs."""
    model = build()
    model.train()
    model.train_step(batch(seed=1), sgd(model))
    plain = MODELS.build(tiny_classifier()).state_dict()
    grads_a, grads_b = store_grads(model, 3.0), store_grads(model, 30.0)
    checked = changed = 0
    for name, grad_a in grads_a.items():
        rows = plain[name].shape[0]
        if grad_a.shape[0] == 2 * rows:  # out-expanded: rows >= O are DT's
            assert torch.equal(grad_a[rows:], grads_b[name][rows:]), name
            assert grad_a[rows:].abs().sum() > 0, name
            checked += 1
        changed += not torch.allclose(grad_a, grads_b[name])
    assert checked > 20 and changed > 20


def test_two_backward_passes_equal_one_backward_of_the_sum():
    model = build(**teacher_kwargs())
    model.train()
    manual = copy.deepcopy(model)
    model.train_step(batch(), sgd(model))
    inputs, samples = preprocessed(manual)
    optimizer = torch.optim.SGD(manual.parameters(), lr=0.1)
    sum(manual.loss(inputs, samples).values()).backward()
    optimizer.step()
    for (name, value), other in zip(model.state_dict().items(),
                                    manual.state_dict().values()):
        assert torch.allclose(value, other, atol=1e-6), name


def test_static_teacher_is_unchanged_and_distils_both():
    model = build(**teacher_kwargs())
    model.train()
    assert not model.teacher.training
    before = copy.deepcopy(model.teacher.state_dict())
    store_before = copy.deepcopy(model.store.state_dict())
    log_vars = model.train_step(batch(), sgd(model))
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert any(not torch.equal(v, store_before[k])
               for k, v in model.store.state_dict().items())
    assert log_vars['loss_kd_dt'] > 0 and log_vars['loss_kd_s'] > 0
    assert log_vars['loss'].item() == pytest.approx(
        sum(v.item() for k, v in log_vars.items()
            if k.startswith('loss_') and k not in ('loss_dt', 'loss_s')),
        rel=1e-5)


def test_teacher_batch_norm_in_train_mode_as_in_the_reference():
    model = build(**teacher_kwargs(teacher_norm_eval=False))
    model.train()
    assert model.teacher.training
    weights = {k: v.clone() for k, v in model.teacher.named_parameters()}
    model.train_step(batch(), sgd(model))
    for key, value in model.teacher.named_parameters():
        assert torch.equal(value, weights[key]), key
        assert not value.requires_grad


def test_init_weights_loads_the_student_before_expansion(tmp_path):
    torch.manual_seed(5)
    plain = MODELS.build(tiny_classifier())
    for module in plain.modules():  # non-trivial BN statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
    ckpt = str(tmp_path / 'student.pth')
    torch.save({'state_dict': plain.state_dict()}, ckpt)
    inputs, _ = preprocessed(build())
    plain.eval()
    expected = plain(inputs, mode='tensor')
    pretrained = dict(
        tiny_classifier(), init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    for model in (build(student_ckpt=ckpt), build(architecture=pretrained)):
        model.eval()
        assert not torch.allclose(model(inputs), expected, atol=1e-3)
        model.init_weights()  # what the runner calls
        for peer in ('student', 'dynamic_teacher'):
            with model.evaluating(peer):
                assert torch.allclose(model(inputs), expected, atol=1e-5), peer
        exported = model.deployable_state_dict('student')
        for key, value in plain.state_dict().items():
            assert torch.allclose(
                exported[key].float(), value.float(), atol=1e-6), key


def test_init_weights_with_ir_noise_keeps_the_student_close(tmp_path):
    model = build(gpd=dict(GPD_EXPAND, noise_std=1e-6))
    model.init_weights()
    model.eval()
    inputs, _ = preprocessed(model)
    outputs = {}
    for peer in ('student', 'dynamic_teacher'):
        with model.evaluating(peer):
            outputs[peer] = model(inputs)
    gap = (outputs['student'] - outputs['dynamic_teacher']).abs().max()
    assert 0 < gap < 1e-3


def test_exported_student_loads_strictly_into_the_plain_classifier():
    model = build()
    model.train()
    model.train_step(batch(), sgd(model))
    model.eval()
    plain = MODELS.build(tiny_classifier())
    plain.load_state_dict(model.deployable_state_dict('student'), strict=True)
    plain.eval()
    inputs, _ = preprocessed(model)
    assert torch.allclose(
        plain(inputs, mode='tensor'), model(inputs), atol=1e-5)
    with pytest.raises(ValueError, match='export the student'):
        model.deployable_state_dict('dynamic_teacher')


def test_peers_and_their_predictions():
    model = build(**teacher_kwargs())
    assert model.peer_names == ['student', 'dynamic_teacher', 'teacher']
    assert model.peer('student') is model.peer('dynamic_teacher')
    model.train_step(batch(), sgd(model))
    model.eval()
    inputs, samples = preprocessed(model)
    with model.evaluating('teacher'):
        assert torch.equal(model(inputs), model.teacher(inputs, mode='tensor'))
    with model.evaluating('dynamic_teacher'):
        z_dt = model(inputs)
        predictions = model(inputs, samples, mode='predict')
    assert torch.allclose(
        torch.stack([p.pred_score for p in predictions]),
        z_dt.softmax(1),
        atol=1e-6)
    assert not torch.allclose(model(inputs), z_dt)  # default: student
    with pytest.raises(ValueError, match='Unknown peer'):
        with model.evaluating('assistant'):
            pass


def test_bad_configs_are_named_before_training():
    with pytest.raises(ValueError, match='static_kd'):
        build(teacher=tiny_classifier())
    with pytest.raises(ValueError, match='model.logits'):
        build(logits='head.linear')
    with pytest.raises(ValueError, match='student_ckpt.*init_cfg'):
        build(student_ckpt='https://example.org/r18.pth')
    with pytest.raises(ValueError, match='num_classes'):
        build(**teacher_kwargs(teacher=tiny_classifier(num_classes=5)))
    model = build()
    with pytest.raises(ValueError, match='one optimizer'):
        model.train_step(batch(), OptimWrapperDict(student=sgd(model)))
    with pytest.raises(ValueError, match='accumulative_counts'):
        model.train_step(batch(), sgd(model, accumulative_counts=2))


def test_export_peer_rebuilds_gpd_from_its_config(tmp_path):
    model = build()
    model.train_step(batch(), sgd(model))
    ckpt = str(tmp_path / 'gpd.pth')
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, ckpt)
    # The store is not under 'student.': GPD has to compute the student.
    with pytest.raises(KeyError, match='--config'):
        export_peer(ckpt, str(tmp_path / 'no_config.pth'))
    cfg = tmp_path / 'gpd_config.py'
    cfg.write_text(f'model = {gpd_config()!r}\n')
    out = export_peer(ckpt, str(tmp_path / 'student.pth'), config=str(cfg))
    exported = load_checkpoint_safely(out)['state_dict']
    expected = model.deployable_state_dict('student')
    assert exported.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(exported[key], value), key
