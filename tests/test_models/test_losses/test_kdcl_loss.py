"""KDCL ensembles and loss against loops written independently here."""
import itertools
import math

import pytest
import torch

from mmokd.models.losses import (KDCLLoss, kdcl_ensemble, kdcl_error_gram,
                                 kdcl_general_weights, kdcl_linear_weights,
                                 perrone_cooper_weights)
from mmokd.models.tasks import ClsTask, SegTask


def kdcl_loss(task=None, **kwargs) -> KDCLLoss:
    """A KDCLLoss with its task set, as the algorithm sets it."""
    loss = KDCLLoss(**kwargs)
    loss.task = task or ClsTask()
    return loss


def ce(logits, label):
    """Cross-entropy of one row, by hand."""
    return math.log(sum(math.exp(v) for v in logits)) - logits[label]


def random_case(seed, num_nets=3, batch=6, classes=5, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    logits = [
        scale * torch.randn(batch, classes, generator=gen)
        for _ in range(num_nets)
    ]
    target = torch.randint(0, classes, (batch, ), generator=gen)
    return logits, target


def loop_naive(logits, target):
    out = torch.empty_like(logits[0])
    for b in range(len(target)):
        losses = [ce(z[b].tolist(), int(target[b])) for z in logits]
        out[b] = logits[losses.index(min(losses))][b]
    return out


def loop_minlogit(logits, target):
    out = torch.empty_like(logits[0])
    for b, c in itertools.product(
            range(len(target)), range(logits[0].shape[1])):
        y = int(target[b])
        out[b, c] = min(float(z[b, c] - z[b, y]) for z in logits)
    return out


def batch_ce(logits, target):
    return sum(
        ce(logits[b].tolist(), int(target[b]))
        for b in range(len(target))) / len(target)


@pytest.mark.parametrize('seed', range(3))
def test_naive_and_minlogit_match_loops(seed):
    logits, target = random_case(seed)
    assert torch.allclose(
        kdcl_ensemble(logits, target, 'naive'), loop_naive(logits, target))
    assert torch.allclose(
        kdcl_ensemble(logits, target, 'minlogit'),
        loop_minlogit(logits, target),
        atol=1e-6)


def test_mean_and_general_are_weighted_sums():
    logits, target = random_case(0)
    weights = torch.tensor([0.5, 0.3, 0.2])
    expected = sum(float(w) * z for w, z in zip(weights, logits))
    assert torch.allclose(
        kdcl_ensemble(logits, target, 'general', weights=weights),
        expected,
        atol=1e-6)
    assert torch.allclose(
        kdcl_ensemble(logits, target, 'mean'), sum(logits) / 3, atol=1e-6)


@pytest.mark.parametrize('seed', range(20))
def test_k1_k2_minlogit_true_class_zero_and_best_ce(seed):
    logits, target = random_case(seed)
    z_t = kdcl_ensemble(logits, target, 'minlogit')
    assert torch.all(z_t[torch.arange(6), target] == 0)
    for z in logits:
        assert torch.all(z_t <= z - z[torch.arange(6), target][:, None])
    for b in range(6):
        best = min(ce(z[b].tolist(), int(target[b])) for z in logits)
        assert ce(z_t[b].tolist(), int(target[b])) <= best + 1e-6


@pytest.mark.parametrize('seed', range(10))
def test_k3_linear_on_simplex_and_no_worse_than_any_network(seed):
    logits, target = random_case(seed)
    rows = torch.stack(logits)
    alpha = kdcl_linear_weights(rows, target)
    assert torch.all(alpha >= 0)
    assert float(alpha.sum()) == pytest.approx(1.0, abs=1e-9)
    z_t = kdcl_ensemble(logits, target, 'linear')
    assert torch.allclose(
        z_t, torch.einsum('m,mnc->nc', alpha.float(), rows), atol=1e-5)
    assert batch_ce(z_t,
                    target) <= min(batch_ce(z, target) for z in logits) + 1e-6


@pytest.mark.parametrize('seed', range(5))
def test_linear_reaches_the_grid_optimum_for_two_networks(seed):
    logits, target = random_case(seed, num_nets=2)
    grid = [
        batch_ce(a * logits[0] + (1 - a) * logits[1], target)
        for a in (i / 2000 for i in range(2001))
    ]
    z_t = kdcl_ensemble(logits, target, 'linear')
    assert batch_ce(z_t, target) == pytest.approx(min(grid), abs=1e-4)


def test_k4_naive_selected_network_has_zero_kd():
    logits, target = random_case(1)
    best = logits[0].clone()
    best[torch.arange(6), target] += 60  # network 0 wins every sample
    logits[0] = best
    z_t = kdcl_ensemble(logits, target, 'naive')
    loss = kdcl_loss(tau=2.0)
    assert float(loss(logits[0], z_t, target)) == 0.0
    assert float(loss(logits[1], z_t, target)) > 0.0


def test_k6_identical_networks_give_zero_kd():
    logits, target = random_case(2)
    same = [logits[0], logits[0].clone()]
    for strategy in ('minlogit', 'mean', 'naive', 'linear'):
        z_t = kdcl_ensemble(same, target, strategy)
        assert torch.allclose(z_t.softmax(1), same[0].softmax(1), atol=1e-6)
        assert float(kdcl_loss()(same[0], z_t, target)) == pytest.approx(
            0.0, abs=1e-6)


def test_ensemble_is_detached_and_loss_only_reaches_the_learner():
    logits, target = random_case(3)
    logits = [z.requires_grad_() for z in logits]
    z_t = kdcl_ensemble(logits, target, 'linear')
    assert not z_t.requires_grad
    loss = kdcl_loss(strategy='minlogit')(logits[0], logits, target)
    grads = torch.autograd.grad(loss, logits, allow_unused=True)
    assert grads[0] is not None and grads[0].abs().sum() > 0
    assert grads[1] is None and grads[2] is None


def test_loss_value_matches_hand_kl_with_tau_and_weight():
    logits, target = random_case(4)
    z_t = kdcl_ensemble(logits, target, 'minlogit')
    tau, weight = 2.0, 0.7
    p_t = (z_t / tau).softmax(1)
    log_p_s = (logits[1] / tau).log_softmax(1)
    expected = weight * tau**2 * float(
        (p_t * (p_t.log() - log_p_s)).sum(1).mean())
    module = kdcl_loss(tau=tau, loss_weight=weight)
    assert float(module(logits[1], z_t, target)) == pytest.approx(
        expected, rel=1e-5)
    # A list of logits builds the same ensemble inside the loss.
    assert float(module(logits[1], logits, target)) == pytest.approx(
        expected, rel=1e-5)


def test_dense_minlogit_per_pixel_and_ignored_pixels_get_the_mean():
    gen = torch.Generator().manual_seed(0)
    logits = [torch.randn(2, 4, 3, 5, generator=gen) for _ in range(2)]
    target = torch.randint(0, 4, (2, 3, 5), generator=gen)
    target[0, 1, 2] = 255
    z_t = kdcl_ensemble(logits, target, 'minlogit')
    assert z_t.shape == (2, 4, 3, 5)
    for n, h, w in itertools.product(range(2), range(3), range(5)):
        y = int(target[n, h, w])
        for c in range(4):
            if y == 255:
                expected = float(
                    (logits[0][n, c, h, w] + logits[1][n, c, h, w]) / 2)
            else:
                expected = min(
                    float(z[n, c, h, w] - z[n, y, h, w]) for z in logits)
            assert float(z_t[n, c, h, w]) == pytest.approx(expected, abs=1e-6)


def test_dense_naive_per_pixel_and_other_sizes_resized():
    gen = torch.Generator().manual_seed(1)
    small = torch.randn(1, 3, 2, 2, generator=gen)
    big = torch.randn(1, 3, 4, 4, generator=gen)
    target = torch.randint(0, 3, (1, 4, 4), generator=gen)
    z_t = kdcl_ensemble([big, small], target, 'naive')
    upsampled = torch.nn.functional.interpolate(
        small, size=(4, 4), mode='bilinear', align_corners=False)
    for h, w in itertools.product(range(4), range(4)):
        y = int(target[0, h, w])
        pick = min((big, upsampled),
                   key=lambda z: ce(z[0, :, h, w].tolist(), y))
        assert torch.allclose(z_t[0, :, h, w], pick[0, :, h, w])


def test_dense_loss_skips_ignored_pixels():
    gen = torch.Generator().manual_seed(2)
    learner = torch.randn(1, 3, 2, 2, generator=gen)
    z_t = torch.randn(1, 3, 2, 2, generator=gen)
    target = torch.tensor([[[0, 255], [255, 255]]])
    p_t, log_p_s = z_t.softmax(1), learner.log_softmax(1)
    kl = (p_t * (p_t.log() - log_p_s)).sum(1)
    assert float(kdcl_loss(SegTask())(learner, z_t, target)) == pytest.approx(
        float(kl[0, 0, 0]), rel=1e-5)


def test_classification_label_255_is_a_real_class():
    gen = torch.Generator().manual_seed(3)
    logits = [torch.randn(2, 300, generator=gen) for _ in range(2)]
    target = torch.tensor([255, 3])
    z_t = kdcl_ensemble(logits, target, 'minlogit',
                        ClsTask().ignored_label(255))
    assert float(z_t[0, 255]) == 0.0
    # Left out (given an ignore label), the sample gets the mean instead.
    z_left_out = kdcl_ensemble(logits, target, 'minlogit', 255)
    assert torch.allclose(z_left_out[0], (logits[0][0] + logits[1][0]) / 2)


def test_k8_general_weights_sum_to_one_and_diagonal_is_inverse_variance():
    cov = torch.diag(torch.tensor([1.0, 2.0, 4.0]))
    w = perrone_cooper_weights(cov, eps=0.0)
    assert float(w.sum()) == pytest.approx(1.0)
    assert w.tolist() == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    full = torch.tensor([[2.0, 0.5], [0.5, 1.0]])
    inv = torch.linalg.inv(full.double())
    assert perrone_cooper_weights(full, 0.0).tolist() == pytest.approx(
        (inv.sum(1) / inv.sum()).tolist())


def test_general_covariance_matches_loop():
    logits, target = random_case(5, num_nets=2, batch=4, classes=3)
    gram, count = kdcl_error_gram(logits, target)
    probs = [z.double().softmax(1) for z in logits]
    for i, j in itertools.product(range(2), range(2)):
        total = 0.0
        for b in range(4):
            onehot = torch.zeros(3, dtype=torch.float64)
            onehot[target[b]] = 1
            total += float(
                ((probs[i][b] - onehot) * (probs[j][b] - onehot)).sum())
        assert float(gram[i, j]) == pytest.approx(total)
    assert float(count) == 4
    w = kdcl_general_weights(logits, target, eps=0.0)
    inv = torch.linalg.inv(gram / 4)
    assert w.tolist() == pytest.approx((inv.sum(1) / inv.sum()).tolist())


def test_bad_strategy_and_missing_weights_are_rejected():
    logits, target = random_case(0)
    with pytest.raises(ValueError, match='strategy'):
        kdcl_ensemble(logits, target, 'median')
    with pytest.raises(ValueError, match='general'):
        kdcl_ensemble(logits, target, 'general')
    with pytest.raises(ValueError, match='KDCLLoss.strategy'):
        KDCLLoss(strategy='median')
