"""MC-Distil (Tambat et al., TMLR 2025): the C-Net contract and the
invariants of the meta step and the student step."""
import copy
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch.func import functional_call

from mmokd.engine.hooks import MCDistilMetaHook
from mmokd.models.backbones import CIFARBasicResNet
from mmokd.models.losses.functional import (mcdistil_item_losses,
                                            mcdistil_weighted_losses,
                                            sgd_lookahead)
from mmokd.models.mcdistil import MCDistilCNet
from mmokd.models.utils import config_field
from mmokd.registry import MODELS
from mmokd.utils.mcdistil_checks import HYPERGRADS
from tests.conftest import REPO
from tests.toy_models import batch


@pytest.mark.parametrize('dense', [False, True])
@pytest.mark.parametrize('source', ['feature', 'head'])
def test_cnet_contract(dense, source):
    cnet = MCDistilCNet(num_students=3, dense=dense, weight_source=source)
    cnet.init_weights()
    weights = cnet(torch.randn(4, 3, 32, 48))
    assert weights.shape == ((4, 6, 4, 6) if dense else (4, 6))
    assert (weights >= 0).all()
    weights.sum().backward()
    names = [n for n, p in cnet.named_parameters() if p.grad is None]
    assert names == []  # every parameter is used (DDP, no unused ones)
    assert (cnet.head is None) == (source == 'feature')


def test_cnet_feature_weights_are_the_first_pooled_channels():
    cnet = MCDistilCNet(num_students=2)
    inputs = torch.randn(3, 3, 32, 32)
    feature = cnet.trunk(inputs)[0]
    assert torch.equal(cnet(inputs), feature.mean(dim=(2, 3))[:, :4])


def test_cnet_refuses_more_weights_than_channels_naming_the_field():
    with config_field('model.cnet'), pytest.raises(
            ValueError, match='model.cnet.num_students: 33 students'):
        MCDistilCNet(num_students=33)
    MCDistilCNet(num_students=33, weight_source='head')
    with pytest.raises(ValueError, match='weight_source'):
        MCDistilCNet(num_students=1, weight_source='logits')


def classifier(arch, num_classes=10):
    """A real mmpretrain classifier on a CIFARBasicResNet."""
    return dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(type='mmokd.CIFARBasicResNet', arch=arch),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=CIFARBasicResNet.arch_settings[arch][0][-1],
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))


STUDENTS = ('s_xxxs', 's_xxs', 's_xs')


def mcdistil_config(num_students=2, **kwargs):
    students = STUDENTS[:num_students]
    peers = dict(teacher=classifier('resnet10_s'))
    peers.update({s: classifier(f'resnet10_{s[2:]}') for s in students})
    cfg = dict(
        type='mmokd.MCDistil',
        peers=peers,
        student=students[-1],
        logits='head.fc',
        cnet=dict(type='mmokd.MCDistilCNet', num_students=num_students),
        meta_interval=3,
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor', num_classes=10))
    cfg.update(kwargs)
    return cfg


def build(seed=0, **kwargs):
    torch.manual_seed(seed)
    model = MODELS.build(mcdistil_config(**kwargs))
    model.init_weights()
    model.set_meta_batches([batch(8, seed=100 + i) for i in range(2)])
    return model.train()


def optim(model, lr=0.1):
    """SGD per student (momentum, weight decay, two groups for the
    first), Adam with weight decay for the C-Net."""
    wrappers = {}
    for name in model.students:
        net = model.peer(name)
        groups = [
            dict(params=net.backbone.parameters()),
            dict(params=net.head.parameters(), lr=lr / 2, weight_decay=0.)
        ]
        wrappers[name] = OptimWrapper(
            torch.optim.SGD(
                groups, lr=lr, momentum=0.9, weight_decay=1e-4))
    wrappers['cnet'] = OptimWrapper(
        torch.optim.Adam(model.cnet.parameters(), lr=1e-3,
                         weight_decay=1e-4))
    return OptimWrapperDict(**wrappers)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same(before, after):
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key


def run(model, wrappers, iterations, start=0):
    """Training iterations with the hook's trigger; returns the logs."""
    hook = MCDistilMetaHook(meta_dataloader={})
    runner = SimpleNamespace(model=model)
    logs = []
    for i in range(start, start + iterations):
        hook.before_train_iter(runner, batch_idx=i)
        logs.append(model.train_step(batch(8, seed=i), wrappers))
    return logs


@pytest.mark.parametrize('hypergrad', HYPERGRADS)
def test_meta_step_leaves_the_students_bit_identical(hypergrad):
    model = build(hypergrad=hypergrad)
    wrappers = optim(model)
    run(model, wrappers, 1)  # momentum buffers exist from here on
    for name in model.students:  # a .grad that must survive as it is
        first = next(model.peer(name).parameters())
        first.grad = torch.ones_like(first)
    students = {name: snapshot(model.peer(name)) for name in model.students}
    grads = {
        name: [p.grad for p in model.peer(name).parameters()]
        for name in model.students
    }
    states = {
        name: copy.deepcopy(wrappers[name].optimizer.state_dict())
        for name in model.students
    }
    phi = snapshot(model.cnet)
    data = model.data_preprocessor(batch(8, seed=5), True)
    teacher = model.teacher_logits(data['inputs'], data['data_samples'])
    log = model.meta_step(data['inputs'], data['data_samples'], teacher,
                          wrappers)
    assert torch.isfinite(log['mcdistil.meta_loss'])
    assert int(model.meta_steps) == 1
    for name in model.students:
        assert_same(students[name], snapshot(model.peer(name)))
        assert [p.grad for p in model.peer(name).parameters()] == \
            grads[name]  # the very same tensors (or None)
        state = wrappers[name].optimizer.state_dict()
        assert state['param_groups'] == states[name]['param_groups']
        assert_same(
            {(k, n): v for k, s in states[name]['state'].items()
             for n, v in s.items()},
            {(k, n): v for k, s in state['state'].items()
             for n, v in s.items()})
    changed = [k for k, v in snapshot(model.cnet).items()
               if 'num_batches' not in k and not torch.equal(v, phi[k])]
    assert any('weight' in k for k in changed)
    # The C-Net's BN statistics move once, as with a single forward.
    tracked = [k for k in phi if k.endswith('num_batches_tracked')]
    assert tracked and all(
        int(model.cnet.state_dict()[k]) == int(phi[k]) + 1 for k in tracked)


def test_student_step_sends_no_cnet_gradient_and_keeps_the_teacher():
    model = build()
    wrappers = optim(model)
    phi, teacher = snapshot(model.cnet), snapshot(model.peer('teacher'))
    students = {name: snapshot(model.peer(name)) for name in model.students}
    log = model.train_step(batch(8), wrappers)  # not a meta iteration
    assert 'mcdistil.meta_loss' not in log
    for key, value in snapshot(model.cnet).items():
        if 'running' not in key and 'num_batches' not in key:
            assert torch.equal(value, phi[key]), key
    assert all(p.grad is None for p in model.cnet.parameters())
    assert_same(teacher, snapshot(model.peer('teacher')))
    for name in model.students:
        after = snapshot(model.peer(name))
        assert not torch.equal(after['head.fc.weight'],
                               students[name]['head.fc.weight'])


def test_cnet_changes_exactly_on_the_triggers():
    model = build()
    wrappers = optim(model)
    adam = wrappers['cnet'].optimizer
    changes, previous = [], snapshot(model.cnet)
    previous_state = copy.deepcopy(adam.state_dict())
    for i in range(7):  # L = 3: batch_idx 2 and 5 trigger
        log = run(model, wrappers, 1, start=i)[0]
        current = {
            k: v
            for k, v in snapshot(model.cnet).items()
            if 'running' not in k and 'num_batches' not in k
        }
        moved = any(not torch.equal(v, previous[k])
                    for k, v in current.items())
        state = adam.state_dict()
        if not moved:  # Adam (and its weight decay) did not step
            assert str(state) == str(previous_state)
        changes.append(moved)
        assert ('mcdistil.meta_loss' in log) == moved
        previous, previous_state = snapshot(model.cnet), copy.deepcopy(state)
    assert changes == [False, False, True, False, False, True, False]
    assert int(model.meta_steps) == 2


def test_students_use_the_weights_of_the_updated_cnet():
    model = build()
    wrappers = optim(model)
    calls = []
    model.cnet.register_forward_hook(
        lambda module, args, out: calls.append((args[0], out.detach())))
    log = run(model, wrappers, 3)[-1]  # the third iteration is a meta one
    (meta_in, meta_w), (step_in, step_w) = calls[-2:]
    assert torch.equal(meta_in, step_in)
    assert not torch.equal(meta_w, step_w)  # phi changed in between
    with torch.no_grad():
        assert torch.equal(model.cnet(step_in), step_w)
    for index, name in enumerate(model.students):
        assert log[f'mcdistil.alpha.{name}'].item() == pytest.approx(
            step_w[:, 2 * index].mean().item())
        assert log[f'mcdistil.beta.{name}'].item() == pytest.approx(
            step_w[:, 2 * index + 1].mean().item())


def meta_inputs(model, dtype=torch.float32):
    data = model.data_preprocessor(batch(8, seed=7), True)
    meta = model.data_preprocessor(batch(8, seed=8), True)
    inputs, meta_in = data['inputs'].to(dtype), meta['inputs'].to(dtype)
    labels = model.task.labels(data['data_samples'])
    meta_labels = model.task.labels(meta['data_samples'])
    teacher = model.teacher_logits(inputs, data['data_samples'])
    leaf = model.cnet(inputs).detach().requires_grad_()
    return leaf, inputs, labels, teacher, meta_in, meta_labels


@pytest.mark.parametrize('hypergrad', HYPERGRADS)
def test_zero_lr_gives_a_zero_cnet_gradient(hypergrad):
    model = build(hypergrad=hypergrad)
    wrappers = optim(model, lr=0.0)
    run(model, wrappers, 1)
    args = meta_inputs(model)
    for index, name in enumerate(model.students):
        grad, loss = model.weight_gradient(index, *args,
                                           wrappers[name].optimizer)
        assert torch.count_nonzero(grad) == 0 and loss > 0


def through_the_lookahead(model, index, optimizer, leaf, inputs, labels,
                          teacher, meta_in, meta_labels):
    """dL_val/dw by the definition: autograd through the look-ahead SGD
    step built with ``create_graph=True`` (the reference's ``meta.py``
    route), independent of the closed form the model uses."""
    student = model.peer(model.students[index])
    params = dict(student.named_parameters())

    def logits(tensors, x):
        tensors = dict(tensors)
        tensors.update(
            {n: b.clone()
             for n, b in student.named_buffers()})
        return functional_call(student, tensors, (x, ), dict(mode='tensor'))

    ce, kl, valid = mcdistil_item_losses(
        logits(params, inputs), teacher, labels, model.tau)
    loss = sum(
        mcdistil_weighted_losses(ce, kl, leaf[:, 2 * index],
                                 leaf[:, 2 * index + 1], valid, model.tau))
    stepped = dict(params)
    for group in optimizer.param_groups:
        names = [n for n, p in params.items()
                 if any(p is q for q in group['params'])]
        grads = torch.autograd.grad(loss, [params[n] for n in names],
                                    create_graph=True, retain_graph=True)
        buffers = [
            optimizer.state[params[n]].get('momentum_buffer') for n in names
        ]
        stepped.update(
            zip(names,
                sgd_lookahead([params[n] for n in names], grads, buffers,
                              group['lr'], group['momentum'],
                              group['dampening'], group['weight_decay'],
                              group['nesterov'])))
    val = F.cross_entropy(logits(stepped, meta_in), meta_labels)
    grad, = torch.autograd.grad(val, leaf)
    return grad, val.detach()


@pytest.mark.parametrize('nesterov', [False, True])
@pytest.mark.parametrize('hypergrad', ['forward_mode', 'second_order'])
def test_exact_modes_equal_autograd_through_the_lookahead(
        hypergrad, nesterov):
    model = build(hypergrad=hypergrad)
    wrappers = optim(model, lr=0.05)
    run(model, wrappers, 1)  # momentum buffers, two groups
    model.double()
    for name in model.students:
        for group in wrappers[name].optimizer.param_groups:
            group['nesterov'] = nesterov
        for state in wrappers[name].optimizer.state.values():
            state['momentum_buffer'] = state['momentum_buffer'].double()
    args = meta_inputs(model, torch.float64)
    for index, name in enumerate(model.students):
        optimizer = wrappers[name].optimizer
        grad, loss = model.weight_gradient(index, *args, optimizer)
        expected, expected_loss = through_the_lookahead(
            model, index, optimizer, *args)
        assert float(expected.abs().max()) > 1e-4
        torch.testing.assert_close(grad, expected, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(loss, expected_loss, rtol=1e-12, atol=0)


def test_finite_difference_matches_second_order():
    model = build()
    wrappers = optim(model, lr=0.05)
    run(model, wrappers, 1)  # momentum buffers, two groups
    model.double()
    for name in model.students:
        for state in wrappers[name].optimizer.state.values():
            state['momentum_buffer'] = state['momentum_buffer'].double()
    args = meta_inputs(model, torch.float64)
    for index, name in enumerate(model.students):
        optimizer = wrappers[name].optimizer
        model.hypergrad = 'second_order'
        exact, loss = model.weight_gradient(index, *args, optimizer)
        # A small step in float64 keeps the central difference off the
        # ReLUs' kinks (1e-4 can cross one: 6e-7 off here).
        model.hypergrad, model.fd_eps = 'finite_difference', 1e-6
        approx, loss_fd = model.weight_gradient(index, *args, optimizer)
        scale = float(exact.abs().max())
        assert scale > 1e-4  # not a trivially zero case
        torch.testing.assert_close(approx, exact, rtol=0, atol=1e-5 * scale)
        assert loss_fd == loss


def test_one_student_works():
    model = build(num_students=1)
    wrappers = optim(model)
    phi = snapshot(model.cnet)
    logs = run(model, wrappers, 3)
    assert model.cnet(torch.zeros(2, 3, 32, 32)).shape == (2, 2)
    assert 'mcdistil.meta_loss' in logs[-1]
    assert not torch.equal(phi['trunk.conv1.weight'],
                           model.cnet.trunk.conv1.weight)


def test_hard_loss_is_replaced():
    model = build()
    log = model.train_step(batch(8), optim(model))
    for name in model.students:
        assert f'{name}.loss_task' not in log
        total = log[f'{name}.loss_mc_ce'] + log[f'{name}.loss_mc_kd']
        assert log[f'{name}.loss'].item() == pytest.approx(total.item())
    model = build(hard_loss_keys=('loss_ce', ))
    with pytest.raises(ValueError, match='model.hard_loss_keys'):
        model.train_step(batch(8), optim(model))


@pytest.mark.parametrize('change, message', [
    (dict(teacher='tutor'), 'model.teacher'),
    (dict(frozen_peers=['s_xxxs']), 'model.frozen_peers'),
    (dict(cnet=dict(type='mmokd.MCDistilCNet', num_students=3)),
     'model.cnet.num_students is 3'),
    (dict(cnet=dict(type='mmokd.MCDistilCNet', num_students=2, dense=True)),
     'model.cnet.dense'),
    (dict(meta_interval=0), 'model.meta_interval'),
    (dict(hypergrad='jvp'), 'model.hypergrad'),
])
def test_bad_settings_are_refused_naming_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(mcdistil_config(**change))


def test_exact_modes_refuse_sync_bn():
    assert MODELS.build(mcdistil_config()).hypergrad == 'forward_mode'
    cfg = mcdistil_config()
    cfg['peers']['s_xxs']['backbone']['norm_cfg'] = dict(type='SyncBN')
    for exact in (None, 'forward_mode', 'second_order'):
        with pytest.raises(ValueError, match='model.hypergrad'):
            MODELS.build(dict(cfg, hypergrad=exact))
    MODELS.build(dict(cfg, hypergrad='finite_difference'))


def test_non_finite_meta_loss_stops_before_the_cnet_steps():
    model = build()
    wrappers = optim(model, lr=float('inf'))
    phi = snapshot(model.cnet)
    data = model.data_preprocessor(batch(8), True)
    teacher = model.teacher_logits(data['inputs'], data['data_samples'])
    with pytest.raises(FloatingPointError, match='mcdistil.meta_loss'):
        model.meta_step(data['inputs'], data['data_samples'], teacher,
                        wrappers)
    for key, value in snapshot(model.cnet).items():
        if 'running' not in key and 'num_batches' not in key:
            assert torch.equal(value, phi[key]), key
    assert int(model.meta_steps) == 0


def test_segmentation_defaults_to_finite_differences():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/mcdistil/deeplabv3_r101_r18_cityscapes.py'))
    cfg.model.pop('hypergrad')
    model = MODELS.build(cfg.model)
    assert model.hypergrad == 'finite_difference'
    assert model.ignore_index == 255 and model.cnet.dense


def test_the_teacher_runs_once_per_step_meta_steps_included():
    """The meta step's teacher records also serve the students' terms.
    The first step also runs the teacher twice to fold its BN layers (a
    probe forward and the folded forward's check), once per training."""
    model = build()
    wrappers = optim(model)
    calls = []
    model.peer(model.teacher_name).register_forward_hook(
        lambda *args: calls.append(1))
    for i in range(4):  # L = 3: batch_idx 2 triggers
        before = len(calls)
        log = run(model, wrappers, 1, start=i)[0]
        assert len(calls) - before == (3 if i == 0 else 1)
        if i == 2:
            assert 'mcdistil.meta_loss' in log
    assert model.batch_norm_folding(model.teacher_name).num_folded > 0


@pytest.mark.parametrize('hypergrad', ['forward_mode', 'finite_difference'])
def test_graph_free_forwards_run_channels_last_on_the_cpu(hypergrad):
    """The forwards without a graph (the teacher's, the C-Net's ``w``,
    the finite differences') take a channels-last batch (faster on the
    CPU, docs/benchmarks.md); the students' forwards with a graph or
    tangents and the C-Net's with a graph keep NCHW (torch's CPU
    channels-last backward crashes); the teacher's logits are the NCHW
    ones up to rounding."""
    model = build(hypergrad=hypergrad)
    wrappers = optim(model)
    layouts = {}

    def record(name):
        def hook(module, args):
            layouts.setdefault(name, set()).add(
                (args[0].is_contiguous(memory_format=torch.channels_last),
                 torch.is_grad_enabled()))

        return hook

    for name in model.peer_names:
        model.peer(name).register_forward_pre_hook(record(name))
    model.cnet.register_forward_pre_hook(record('cnet'))
    run(model, wrappers, 3)  # L = 3: the third step is a meta step
    assert layouts[model.teacher_name] == {(True, False)}
    assert layouts['cnet'] == {(True, False), (False, True)}
    # The look-ahead's forwards: with a graph in NCHW; the finite
    # differences' in channels-last, forward mode's tangents in NCHW.
    meta = (True, False) if hypergrad == 'finite_difference' \
        else (False, False)
    for name in model.students:
        assert layouts[name] == {(False, True), meta}
    data = model.data_preprocessor(batch(8), True)
    teacher = model.peer(model.teacher_name).eval()
    with torch.no_grad():
        nchw = teacher(data['inputs'], mode='tensor')
    torch.testing.assert_close(
        model.teacher_logits(data['inputs'], data['data_samples']), nchw,
        rtol=1e-5, atol=1e-5)
