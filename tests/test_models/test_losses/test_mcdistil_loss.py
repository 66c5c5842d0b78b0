"""Golden values of MC-Distil's per-item losses, SGD look-ahead and weight
hypergradients (Tambat et al., TMLR 2025, Sec. 3), computed in numpy."""
import copy
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmokd.models.losses import MCDistilLoss, dml_kl
from mmokd.models.losses.functional import (lookahead_weight_grads,
                                            mcdistil_item_losses,
                                            mcdistil_weighted_losses,
                                            sgd_lookahead)
from mmokd.models.tasks import ClsTask, SegTask
from mmokd.models.utils import config_field


def softmax(z, axis=-1):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def items_reference(logits_s, logits_t, target, tau):
    """Per-row CE and KL(p_t || p_s) at temperature tau, numpy."""
    p = softmax(logits_s)
    ce = -np.log(p[np.arange(len(target)), target])
    p_s, p_t = softmax(logits_s / tau), softmax(logits_t / tau)
    kl = (p_t * (np.log(p_t) - np.log(p_s))).sum(-1)
    return ce, kl


def bilinear_reference(x, out_h, out_w):
    """torch's bilinear resize (align_corners=False) of (N, C, H, W)."""

    def taps(out_size, in_size):
        src = np.maximum((np.arange(out_size) + 0.5) * in_size / out_size -
                         0.5, 0)
        low = np.floor(src).astype(int)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, src - low

    y0, y1, wy = taps(out_h, x.shape[2])
    x0, x1, wx = taps(out_w, x.shape[3])
    rows = x[:, :, y0] * (1 - wy)[:, None] + x[:, :, y1] * wy[:, None]
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx


def test_classification_items_match_numpy():
    gen = torch.Generator().manual_seed(0)
    logits_s = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    logits_t = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    target = torch.tensor([0, 4, 2, 2, 1, 3])
    ce, kl, valid = mcdistil_item_losses(logits_s, logits_t, target, 2.0)
    ce_ref, kl_ref = items_reference(logits_s.numpy(), logits_t.numpy(),
                                     target.numpy(), 2.0)
    np.testing.assert_allclose(ce.numpy(), ce_ref, rtol=1e-12)
    np.testing.assert_allclose(kl.numpy(), kl_ref, rtol=1e-12)
    assert valid.all()


def test_classification_without_ignore_index_keeps_label_255():
    logits = torch.randn(2, 300, dtype=torch.float64)
    target = torch.tensor([255, 3])
    ce, _, valid = mcdistil_item_losses(logits, logits, target,
                                        ignore_index=None)
    assert valid.all()
    assert ce[0].item() == pytest.approx(
        -torch.log_softmax(logits[0], 0)[255].item())
    ce, kl, valid = mcdistil_item_losses(logits, logits, target)
    assert valid.tolist() == [False, True] and ce[0] == 0 and kl[0] == 0


def dense_case(seed=1):
    """Student logits 4x4, teacher 2x2, labels 8x8 with ignored pixels."""
    gen = torch.Generator().manual_seed(seed)
    logits_s = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    logits_t = torch.randn(2, 3, 2, 2, generator=gen, dtype=torch.float64)
    target = torch.randint(0, 3, (2, 8, 8), generator=gen)
    target[0, :2] = 255  # rows 0-1 of the label map: logits row 0
    target[1, :, 6:] = 255  # columns 6-7: logits column 3
    return logits_s, logits_t, target


def dense_reference(logits_s, logits_t, target, tau):
    """Per-pixel CE, KL and validity on the student's 4x4 grid, numpy:
    teacher resized bilinearly, labels by nearest (every 2nd pixel)."""
    teacher = bilinear_reference(logits_t.numpy(), 4, 4)
    labels = target.numpy()[:, ::2, ::2]
    valid = labels != 255
    rows_s = logits_s.numpy().transpose(0, 2, 3, 1).reshape(-1, 3)
    rows_t = teacher.transpose(0, 2, 3, 1).reshape(-1, 3)
    safe = np.where(valid, labels, 0).reshape(-1)
    ce, kl = items_reference(rows_s, rows_t, safe, tau)
    ce, kl = ce.reshape(2, 4, 4), kl.reshape(2, 4, 4)
    return np.where(valid, ce, 0), np.where(valid, kl, 0), valid


def test_dense_items_match_numpy_with_ignored_labels_and_resized_teacher():
    logits_s, logits_t, target = dense_case()
    ce, kl, valid = mcdistil_item_losses(logits_s, logits_t, target, 2.0)
    ce_ref, kl_ref, valid_ref = dense_reference(logits_s, logits_t, target,
                                                2.0)
    assert valid.shape == (2, 4, 4)
    np.testing.assert_array_equal(valid.numpy(), valid_ref)
    assert not valid[0, 0].any() and not valid[1, :, 3].any()
    np.testing.assert_allclose(ce.numpy(), ce_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(kl.numpy(), kl_ref, rtol=1e-12, atol=1e-15)


def test_teacher_gets_no_gradient():
    logits_s = torch.randn(4, 3, requires_grad=True)
    logits_t = torch.randn(4, 3, requires_grad=True)
    ce, kl, _ = mcdistil_item_losses(logits_s, logits_t, torch.arange(4) % 3)
    (ce.sum() + kl.sum()).backward()
    assert logits_t.grad is None and logits_s.grad is not None


def test_weighted_losses_match_numpy_classification():
    gen = torch.Generator().manual_seed(2)
    ce = torch.rand(5, generator=gen, dtype=torch.float64)
    kl = torch.rand(5, generator=gen, dtype=torch.float64)
    alpha = torch.rand(5, generator=gen, dtype=torch.float64)
    beta = torch.rand(5, generator=gen, dtype=torch.float64)
    valid = torch.ones(5, dtype=torch.bool)
    loss_ce, loss_kd = mcdistil_weighted_losses(ce, kl, alpha, beta, valid,
                                                tau=3.0)
    assert loss_ce.item() == pytest.approx(
        float((alpha * ce).numpy().mean()), rel=1e-12)
    assert loss_kd.item() == pytest.approx(
        9.0 * float((beta * kl).numpy().mean()), rel=1e-12)


def test_weighted_losses_dense_resize_weights_and_count_valid_items():
    logits_s, logits_t, target = dense_case(3)
    ce, kl, valid = mcdistil_item_losses(logits_s, logits_t, target, 2.0)
    gen = torch.Generator().manual_seed(4)
    weights = torch.rand(2, 2, 2, 2, generator=gen, dtype=torch.float64)
    loss_ce, loss_kd = mcdistil_weighted_losses(ce, kl, weights[:, 0],
                                                weights[:, 1], valid, 2.0)
    ce_ref, kl_ref, valid_ref = dense_reference(logits_s, logits_t, target,
                                                2.0)
    grid = bilinear_reference(weights.numpy(), 4, 4)
    count = valid_ref.sum()
    assert loss_ce.item() == pytest.approx(
        (grid[:, 0] * ce_ref * valid_ref).sum() / count, rel=1e-12)
    assert loss_kd.item() == pytest.approx(
        4.0 * (grid[:, 1] * kl_ref * valid_ref).sum() / count, rel=1e-12)


def test_loss_module_leaves_out_ignored_pixels_of_dense_tasks():
    logits_s, logits_t, target = dense_case(6)
    weights = torch.rand(2, 2, 2, 2, dtype=torch.float64)
    ce_ref, _, valid_ref = dense_reference(logits_s, logits_t, target, 2.0)
    grid = bilinear_reference(weights.numpy(), 4, 4)
    loss = MCDistilLoss('ce', 0)
    loss.task = SegTask()
    assert loss(logits_s, logits_t, weights, target).item() == pytest.approx(
        (grid[:, 0] * ce_ref).sum() / valid_ref.sum(), rel=1e-12)


def test_all_ignored_gives_zero():
    logits = torch.randn(1, 3, 2, 2)
    target = torch.full((1, 2, 2), 255)
    ce, kl, valid = mcdistil_item_losses(logits, logits, target)
    ones = torch.ones(1, 2, 2)
    losses = mcdistil_weighted_losses(ce, kl, ones, ones, valid)
    assert [loss.item() for loss in losses] == [0.0, 0.0]


@pytest.mark.parametrize('dense', [False, True])
def test_unit_weights_are_cross_entropy_and_dml_kl(dense):
    if dense:
        logits_s, logits_t, target = dense_case(5)
    else:
        logits_s = torch.randn(7, 4, dtype=torch.float64)
        logits_t = torch.randn(7, 4, dtype=torch.float64)
        target = torch.randint(0, 4, (7, ))
    ce, kl, valid = mcdistil_item_losses(logits_s, logits_t, target, 2.0)
    ones, zeros = torch.ones_like(ce), torch.zeros_like(ce)
    only_ce = mcdistil_weighted_losses(ce, kl, ones, zeros, valid, 2.0)
    only_kd = mcdistil_weighted_losses(ce, kl, zeros, ones, valid, 2.0)
    labels = F.interpolate(target[:, None].double(), size=(4, 4),
                           mode='nearest')[:, 0].long() if dense else target
    expected_ce = F.cross_entropy(logits_s, labels, ignore_index=255)
    expected_kd = dml_kl(logits_s, logits_t, 2.0, target, 255)
    assert only_ce[0].item() == pytest.approx(expected_ce.item(), rel=1e-12)
    assert only_ce[1].item() == 0
    assert only_kd[0].item() == 0
    assert only_kd[1].item() == pytest.approx(expected_kd.item(), rel=1e-12)


def test_loss_module_picks_its_students_columns():
    logits_s = torch.randn(4, 3, dtype=torch.float64)
    logits_t = torch.randn(4, 3, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 0])
    weights = torch.rand(4, 6, dtype=torch.float64)
    ce_ref, kl_ref = items_reference(logits_s.numpy(), logits_t.numpy(),
                                     target.numpy(), 2.0)
    w = weights.numpy()
    terms = MCDistilLoss('ce', 1), MCDistilLoss('kd', 1, loss_weight=0.5)
    for term in terms:
        term.task = ClsTask()
    loss_ce, loss_kd = (term(logits_s, logits_t, weights, target)
                        for term in terms)
    assert loss_ce.item() == pytest.approx((w[:, 2] * ce_ref).mean())
    assert loss_kd.item() == pytest.approx(0.5 * 4 * (w[:, 3] * kl_ref).mean())


def test_loss_module_refuses_bad_settings_naming_the_field():
    field = 'model.distiller.losses.s.loss_mc_ce'
    with config_field(field), pytest.raises(ValueError, match=f'{field}.tau'):
        MCDistilLoss('ce', 0, tau=0)
    with pytest.raises(ValueError, match='MCDistilLoss.term'):
        MCDistilLoss('kl', 0)
    with pytest.raises(ValueError, match='MCDistilLoss.index'):
        MCDistilLoss('ce', -1)
    loss = MCDistilLoss('kd', 2)
    loss.task = ClsTask()
    with pytest.raises(ValueError, match='needs channel 5'):
        loss(
            torch.randn(2, 3), torch.randn(2, 3), torch.rand(2, 4),
            torch.tensor([0, 1]))


def two_group_problem(seed):
    """A tiny two-layer model with two parameter groups (other lr / wd)."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    model.double()
    inputs = torch.randn(6, 4, dtype=torch.float64)
    target = torch.randint(0, 3, (6, ))
    return model, inputs, target


@pytest.mark.parametrize(
    'nesterov, with_buffer, weight_decay',
    list(itertools.product([False, True], [False, True], [0.0, 5e-3])))
def test_sgd_lookahead_is_torch_sgd_step(nesterov, with_buffer,
                                         weight_decay):
    model, inputs, target = two_group_problem(0)
    groups = [
        dict(params=list(model[0].parameters()), lr=0.1),
        dict(params=list(model[2].parameters()), lr=0.03, weight_decay=0.02)
    ]
    optimizer = torch.optim.SGD(
        groups, lr=0.1, momentum=0.9, nesterov=nesterov,
        dampening=0.0, weight_decay=weight_decay)
    if with_buffer:  # one real step fills the momentum buffers
        F.cross_entropy(model(inputs), target).backward()
        optimizer.step()
        optimizer.zero_grad()
    loss = F.cross_entropy(model(inputs), target)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    expected_model = copy.deepcopy(model)
    expected_opt = torch.optim.SGD(
        [dict(params=list(expected_model[0].parameters())),
         dict(params=list(expected_model[2].parameters()))], lr=0.1)
    expected_opt.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    for param, grad in zip(expected_model.parameters(), grads):
        param.grad = grad.clone()
    expected_opt.step()
    grad_of = dict(zip(map(id, model.parameters()), grads))
    before = copy.deepcopy(optimizer.state_dict())
    stepped = []
    for group in optimizer.param_groups:
        buffers = [
            optimizer.state.get(p, {}).get('momentum_buffer')
            for p in group['params']
        ]
        stepped += sgd_lookahead(group['params'],
                                 [grad_of[id(p)] for p in group['params']],
                                 buffers, group['lr'], group['momentum'],
                                 group['dampening'], group['weight_decay'],
                                 group['nesterov'])
    for new, reference in zip(stepped, expected_model.parameters()):
        torch.testing.assert_close(new, reference.detach(), rtol=0,
                                   atol=1e-6)
    assert len(optimizer.state) == (4 if with_buffer else 0)
    after = optimizer.state_dict()['state']
    assert after.keys() == before['state'].keys()
    for key, state in after.items():
        assert state.keys() == before['state'][key].keys()
        for name, value in state.items():
            assert torch.equal(value, before['state'][key][name])


def test_sgd_lookahead_dampening_and_missing_gradient():
    param = torch.tensor([1.0, -2.0], dtype=torch.float64)
    grad = torch.tensor([0.5, 0.25], dtype=torch.float64)
    buf = torch.tensor([0.1, 0.2], dtype=torch.float64)
    new = sgd_lookahead([param, param], [grad, None], [buf, None], lr=0.1,
                        momentum=0.9, dampening=0.3, weight_decay=0.01)
    expected = param.numpy() - 0.1 * (
        0.9 * buf.numpy() + 0.7 * (grad.numpy() + 0.01 * param.numpy()))
    np.testing.assert_allclose(new[0].numpy(), expected, rtol=1e-14)
    assert new[1] is param  # torch skips parameters without gradient


def linear_softmax_problem():
    """Data of a linear-softmax student z = x W (float64)."""
    rng = np.random.default_rng(0)
    return dict(
        x=rng.normal(size=(6, 4)),
        y=rng.integers(0, 3, size=6),
        teacher=rng.normal(size=(6, 3)),
        x_val=rng.normal(size=(5, 4)),
        y_val=rng.integers(0, 3, size=5),
        w=rng.normal(size=(4, 3)),
        alpha=rng.uniform(0.2, 1.5, size=6),
        beta=rng.uniform(0.2, 1.5, size=6))


def numpy_hypergradients(data, lr, tau):
    """dL_val / d alpha and d beta of one SGD look-ahead, numpy, by the
    closed form with hand-written gradients of the linear model."""
    x, y, w = data['x'], data['y'], data['w']
    n = len(y)
    onehot = np.eye(3)[y]
    p = softmax(x @ w)
    p_tau = softmax(x @ w / tau)
    p_t = softmax(data['teacher'] / tau)
    grad_ce = np.einsum('bd,bc->bdc', x, p - onehot)  # d ce_b / dW
    grad_kl = np.einsum('bd,bc->bdc', x, p_tau - p_t) / tau
    grad_train = (np.einsum('b,bdc->dc', data['alpha'], grad_ce) + tau**2 *
                  np.einsum('b,bdc->dc', data['beta'], grad_kl)) / n
    w_new = w - lr * grad_train
    p_val = softmax(data['x_val'] @ w_new)
    v = data['x_val'].T @ (p_val - np.eye(3)[data['y_val']]) / len(
        data['y_val'])
    d_ce = np.einsum('dc,bdc->b', v, grad_ce)
    d_kl = np.einsum('dc,bdc->b', v, grad_kl)
    return -lr / n * d_ce, -lr / n * tau**2 * d_kl, d_ce, d_kl, w_new


def torch_val_loss(data, lr, tau, alpha, beta):
    """L_val after the look-ahead, differentiable in alpha and beta."""
    t = {k: torch.as_tensor(v) for k, v in data.items()}
    weight = t['w'].clone().requires_grad_()
    ce, kl, valid = mcdistil_item_losses(t['x'] @ weight, t['teacher'], t['y'],
                                         tau)
    loss = sum(mcdistil_weighted_losses(ce, kl, alpha, beta, valid, tau))
    grad, = torch.autograd.grad(loss, weight, create_graph=True)
    new, = sgd_lookahead([weight], [grad], [None], lr)
    return F.cross_entropy(t['x_val'] @ new, t['y_val']), new


def test_hypergradients_match_numpy_and_autograd():
    data, lr, tau = linear_softmax_problem(), 0.3, 2.0
    g_alpha_ref, g_beta_ref, d_ce, d_kl, w_new = numpy_hypergradients(
        data, lr, tau)
    g_alpha, g_beta = lookahead_weight_grads(
        torch.as_tensor(d_ce), torch.as_tensor(d_kl), lr, tau, 6)
    np.testing.assert_allclose(g_alpha.numpy(), g_alpha_ref, rtol=1e-12)
    np.testing.assert_allclose(g_beta.numpy(), g_beta_ref, rtol=1e-12)
    alpha = torch.as_tensor(data['alpha']).requires_grad_()
    beta = torch.as_tensor(data['beta']).requires_grad_()
    val_loss, new = torch_val_loss(data, lr, tau, alpha, beta)
    np.testing.assert_allclose(new.detach().numpy(), w_new, rtol=1e-10)
    auto_alpha, auto_beta = torch.autograd.grad(val_loss, (alpha, beta))
    np.testing.assert_allclose(auto_alpha.numpy(), g_alpha_ref, atol=1e-6,
                               rtol=1e-6)
    np.testing.assert_allclose(auto_beta.numpy(), g_beta_ref, atol=1e-6,
                               rtol=1e-6)
    assert np.abs(g_alpha_ref).max() > 1e-4  # not a trivially zero case
