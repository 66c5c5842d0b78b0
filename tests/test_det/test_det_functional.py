"""Detection terms against plain numpy: binary KL, the soft-foreground
normaliser, the padding mask, DML's dense term, binary MinLogit and
SwitOKD's sums."""
import math

import numpy as np
import pytest
import torch
from mmdet.models.task_modules.prior_generators import (AnchorGenerator,
                                                        MlvlPointGenerator)

from mmokd.models.losses.functional import (binary_kl, binary_minlogit,
                                            det_dml_kl, det_feature_mse,
                                            det_onehot, det_rows,
                                            det_switokd_statistics,
                                            padding_valid_masks,
                                            soft_foreground_count)


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def np_binary_kl(a, b):
    """Summed over the last axis, straight from the definition."""
    pa, pb = np_sigmoid(a), np_sigmoid(b)
    return (pa * (np.log(pa) - np.log(pb)) + (1 - pa) *
            (np.log(1 - pa) - np.log(1 - pb))).sum(-1)


def np_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_binary_kl_hand_value():
    # s(ln 3) = 0.75 against s(0) = 0.5, one class.
    value = binary_kl(torch.tensor([[0.0]]), torch.tensor([[math.log(3)]]))
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert value.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('tau', [1.0, 2.0])
def test_binary_kl_matches_numpy_and_gradient(tau):
    gen = torch.Generator().manual_seed(0)
    s = (3 * torch.randn(6, 5, generator=gen)).requires_grad_()
    t = 3 * torch.randn(6, 5, generator=gen)
    value = binary_kl(s, t, tau)
    expected = np_binary_kl(t.numpy() / tau, s.detach().numpy() / tau)
    np.testing.assert_allclose(value.detach().numpy(), expected, rtol=1e-5,
                               atol=1e-6)
    value.sum().backward()
    grad = (np_sigmoid(s.detach().numpy() / tau) -
            np_sigmoid(t.numpy() / tau)) / tau
    np.testing.assert_allclose(s.grad.numpy(), grad, rtol=1e-5, atol=1e-7)
    assert binary_kl(t, t).abs().max() < 1e-6


def _levels(gen, n, a, k, sizes, scale=3.0):
    return [scale * torch.randn(n, a * k, h, w, generator=gen)
            for h, w in sizes]


def _np_rows(level, a, k):
    """(N, A*K, H, W) -> (N, H*W*A, K) in mmdet's (y, x, prior) order."""
    n, _, h, w = level.shape
    out = np.zeros((n, h * w * a, k))
    for i in range(n):
        for y in range(h):
            for x in range(w):
                for p in range(a):
                    out[i, (y * w + x) * a + p] = \
                        level[i, p * k:(p + 1) * k, y, x]
    return out


def test_det_rows_order():
    gen = torch.Generator().manual_seed(1)
    levels = _levels(gen, 2, 3, 4, [(3, 5), (2, 2)])
    rows = det_rows(levels, 4).numpy()
    expected = np.concatenate(
        [_np_rows(lv.numpy(), 3, 4).reshape(-1, 4) for lv in levels])
    np.testing.assert_array_equal(rows, expected)


def test_padding_masks_follow_each_images_pad_shape():
    gen = AnchorGenerator(
        strides=[8, 16], ratios=[0.5, 1.0, 2.0], octave_base_scale=4,
        scales_per_octave=3)
    a = gen.num_base_priors[0]  # 9
    sizes = [(8, 10), (4, 5)]  # batch padded to 64 x 80
    pad_shapes = [(64, 80, 3), (40, 48, 3)]
    masks = padding_valid_masks(gen, sizes, pad_shapes, torch.device('cpu'))
    assert [tuple(m.shape) for m in masks] == [(2, 8 * 10 * a),
                                               (2, 4 * 5 * a)]
    for level, ((h, w), stride) in enumerate(zip(sizes, (8, 16))):
        for i, (ph, pw, _) in enumerate(pad_shapes):
            inside = np.zeros((h, w, a), dtype=bool)
            inside[:math.ceil(ph / stride), :math.ceil(pw / stride)] = True
            np.testing.assert_array_equal(masks[level][i].numpy(),
                                          inside.reshape(-1))
    assert masks[0][0].all() and not masks[0][1].all()
    points = padding_valid_masks(
        MlvlPointGenerator([8, 16]), sizes, pad_shapes,
        torch.device('cpu'))
    assert points[0].shape == (2, 80) and points[0][1].sum() == 5 * 6


def _np_valid_grid(mask, a, h, w):
    return mask.reshape(-1, h, w, a)


@pytest.mark.parametrize('tau', [1.0, 2.0])
def test_soft_foreground_count_and_sigmoid_dml(tau):
    gen = torch.Generator().manual_seed(2)
    a, k, sizes = 2, 3, [(4, 5), (2, 3)]
    z_s = _levels(gen, 2, a, k, sizes)
    z_t = _levels(gen, 2, a, k, sizes)
    valid = [torch.rand(2, h * w * a, generator=gen) > 0.3 for h, w in sizes]
    rows_s = [_np_rows(lv.numpy(), a, k) for lv in z_s]
    rows_t = [_np_rows(lv.numpy(), a, k) for lv in z_t]
    masks = [m.numpy() for m in valid]
    count = sum((np_sigmoid(rt / tau).max(-1) * m).sum()
                for rt, m in zip(rows_t, masks))
    norm = max(1.0, count)
    assert soft_foreground_count(z_t, valid, k, tau).item() == \
        pytest.approx(norm, rel=1e-5)
    kl = sum((np_binary_kl(rt / tau, rs / tau) * m).sum()
             for rs, rt, m in zip(rows_s, rows_t, masks))
    value = det_dml_kl(z_s, z_t, valid, k, 'sigmoid', tau)
    assert value.item() == pytest.approx(tau**2 * kl / norm, rel=1e-5)


def test_normaliser_is_at_least_one():
    z = [torch.full((1, 2, 2, 2), -20.0)]
    assert soft_foreground_count(z, [torch.ones(1, 8, dtype=torch.bool)],
                                 1).item() == 1.0


def test_softmax_dml_is_mean_over_valid_priors():
    gen = torch.Generator().manual_seed(3)
    a, k, sizes = 1, 4, [(3, 3)]
    z_s, z_t = _levels(gen, 2, a, k, sizes), _levels(gen, 2, a, k, sizes)
    valid = [torch.rand(2, 9, generator=gen) > 0.5]
    rs, rt = _np_rows(z_s[0].numpy(), a, k), _np_rows(z_t[0].numpy(), a, k)
    p_s, p_t = np_softmax(rs), np_softmax(rt)
    kl = (p_t * (np.log(p_t) - np.log(p_s))).sum(-1)
    m = valid[0].numpy()
    expected = (kl * m).sum() / m.sum()
    value = det_dml_kl(z_s, z_t, valid, k, 'softmax')
    assert value.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('activation', ['sigmoid', 'softmax'])
def test_half_precision_logits_give_the_float32_value(activation):
    # Under AMP the heads' scores are float16; one level of 70,000 valid
    # priors: a half-precision prior count or sum is inf or loses digits.
    gen = torch.Generator().manual_seed(5)
    z_s = [torch.randn(1, 2, 250, 280, generator=gen).half()]
    z_t = [torch.randn(1, 2, 250, 280, generator=gen).half()]
    valid = [torch.ones(1, 250 * 280, dtype=torch.bool)]
    value = det_dml_kl(z_s, z_t, valid, 2, activation)
    reference = det_dml_kl([z_s[0].double()], [z_t[0].double()], valid, 2,
                           activation)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(reference.item(), rel=1e-5)
    assert soft_foreground_count(z_t, valid, 2).item() == pytest.approx(
        soft_foreground_count([z_t[0].double()], valid, 2).item(), rel=1e-5)


def test_half_precision_fpn_features_give_the_float32_mse():
    # 256 x 64 x 64 squares of 4: their half-precision sum overflows.
    feat_s = torch.full((1, 256, 64, 64), 2.0, dtype=torch.float16)
    feat_t = torch.zeros_like(feat_s)
    inside = torch.ones(1, 1, 64, 64, dtype=torch.float16)
    value = det_feature_mse([feat_s], [feat_t], [inside])
    assert value.dtype == torch.float32 and value.item() == 4.0


def test_dml_gradient_reaches_only_the_learner_and_padding_is_left_out():
    gen = torch.Generator().manual_seed(4)
    z_s = [lv.requires_grad_() for lv in _levels(gen, 1, 1, 2, [(2, 2)])]
    z_t = [lv.requires_grad_() for lv in _levels(gen, 1, 1, 2, [(2, 2)])]
    valid = [torch.tensor([[True, False, True, False]])]
    det_dml_kl(z_s, z_t, valid, 2).backward()
    assert z_t[0].grad is None
    grad = z_s[0].grad[0]  # (K, H, W); priors in (y, x) order
    assert grad[:, :, 1].abs().sum() == 0  # x = 1 is padding
    assert grad[:, :, 0].abs().sum() > 0


def test_layout_mismatch_is_refused():
    with pytest.raises(ValueError, match='prior layouts differ'):
        det_dml_kl([torch.zeros(1, 9, 2, 2)], [torch.zeros(1, 9, 3, 3)],
                   [torch.ones(1, 36, dtype=torch.bool)], 1)
    with pytest.raises(ValueError, match='activation'):
        det_dml_kl([torch.zeros(1, 1, 1, 1)], [torch.zeros(1, 1, 1, 1)],
                   [torch.ones(1, 1, dtype=torch.bool)], 1, 'relu')


def test_binary_minlogit():
    logits = torch.tensor([[[1.0, -2.0, 0.5]], [[3.0, -1.0, -4.0]],
                           [[0.0, 2.0, 1.0]]])  # (M=3, P=1, K=3)
    onehot = torch.tensor([[1.0, 0.0, 1.0]])
    ensemble = binary_minlogit(logits, onehot)
    np.testing.assert_array_equal(ensemble.numpy(), [[3.0, -2.0, 1.0]])
    # Each class's two-logit form (0, z) with the true logit subtracted:
    # the ensemble's is the element-wise minimum over networks.
    zs = logits.numpy()
    y = onehot.numpy()
    shifted = np.where(y == 1, -zs, zs)  # logit of the other outcome
    np.testing.assert_array_equal(
        np.where(y == 1, -shifted.min(0), shifted.min(0)), ensemble.numpy())


@pytest.mark.parametrize('activation', ['sigmoid', 'softmax'])
def test_switokd_sums(activation):
    gen = torch.Generator().manual_seed(5)
    k = 4
    rows_s, rows_t = torch.randn(10, k, generator=gen), torch.randn(
        10, k, generator=gen)
    num_classes = k if activation == 'sigmoid' else k - 1
    labels = torch.randint(0, num_classes + 1, (10, ), generator=gen)
    valid = torch.rand(10, generator=gen) > 0.3
    stats = det_switokd_statistics(rows_s, rows_t, labels, valid, activation)
    act = np_sigmoid if activation == 'sigmoid' else np_softmax
    p_s, p_t = act(rows_s.numpy()), act(rows_t.numpy())
    y = np.zeros((10, k))
    for i, label in enumerate(labels.tolist()):
        if label < k:
            y[i, label] = 1.0
    m = valid.numpy()
    expected = [np.abs(p_s - y).sum(1)[m].sum(), np.abs(p_t - y).sum(1)[m]
                .sum(), np.abs(p_s - p_t).sum(1)[m].sum(), m.sum()]
    np.testing.assert_allclose(stats.numpy(), expected, rtol=1e-6)
    if activation == 'sigmoid':
        assert det_onehot(torch.tensor([k]), k, activation).sum() == 0
