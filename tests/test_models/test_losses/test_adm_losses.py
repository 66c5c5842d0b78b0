"""Golden values and invariants of ADM's terms (Chen et al., ICML 2025,
Eq. 5-10)."""
import numpy as np
import pytest
import torch

from mmokd.models.losses import (ADMConsensusLoss, adm_attention,
                                 adm_consensus_loss, adm_divergence_loss,
                                 adm_feature_loss, dml_kl)
from mmokd.models.losses.functional import attended_logits
from mmokd.models.tasks import ClsTask


def np_similarity(fs, ft):
    """Cosine over channels, per position, with plain numpy."""
    fs, ft = np.asarray(fs, np.float64), np.asarray(ft, np.float64)
    dot = (fs * ft).sum(1)
    return dot / (np.linalg.norm(fs, axis=1) * np.linalg.norm(ft, axis=1))


def np_attention(fs, ft, eps=1e-5):
    sim = np_similarity(fs, ft)
    co = (1 + sim) / ((1 + sim).mean(axis=(1, 2), keepdims=True) + eps)
    di = (1 - sim) / ((1 - sim).mean(axis=(1, 2), keepdims=True) + eps)
    return co[:, None], di[:, None]


def np_ce(logits, target):
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -logp[np.arange(len(target)), target].mean()


def np_attended_ce(feat, attn, weight, bias, target):
    pooled = (np.maximum(feat, 0) * attn).mean(axis=(2, 3))
    return np_ce(pooled @ weight.T + bias, target)


@pytest.fixture
def tensors():
    gen = torch.Generator().manual_seed(0)
    return dict(
        fs=torch.randn(3, 4, 5, 6, generator=gen),
        ft=torch.randn(3, 4, 5, 6, generator=gen),
        w=torch.randn(7, 4, generator=gen),
        b=torch.randn(7, generator=gen),
        y=torch.tensor([0, 3, 6]))


def test_attention_matches_numpy_and_has_unit_mean(tensors):
    fs, ft = tensors['fs'], tensors['ft']
    co, di = adm_attention(fs, ft)
    ref_co, ref_di = np_attention(fs.numpy(), ft.numpy())
    assert co.shape == di.shape == (3, 1, 5, 6)
    np.testing.assert_allclose(co.numpy(), ref_co, rtol=1e-5)
    np.testing.assert_allclose(di.numpy(), ref_di, rtol=1e-5)
    assert torch.allclose(co.mean(dim=(1, 2, 3)), torch.ones(3), atol=1e-4)
    assert torch.allclose(di.mean(dim=(1, 2, 3)), torch.ones(3), atol=1e-4)


def test_consensus_and_divergence_match_numpy(tensors):
    t = {k: v.numpy() for k, v in tensors.items()}
    co, di = np_attention(t['fs'], t['ft'])
    expected_co = np_attended_ce(t['fs'], co, t['w'], t['b'], t['y'])
    expected_di = np_attended_ce(t['ft'], di, t['w'], t['b'], t['y'])
    attn_co, attn_di = adm_attention(tensors['fs'], tensors['ft'])
    got_co = adm_consensus_loss(tensors['fs'], attn_co, tensors['w'],
                                tensors['b'], tensors['y'])
    got_di = adm_divergence_loss(tensors['ft'], attn_di, tensors['w'],
                                 tensors['b'], tensors['y'])
    assert got_co.item() == pytest.approx(expected_co, rel=1e-5)
    assert got_di.item() == pytest.approx(expected_di, rel=1e-5)


def test_dense_form_uses_the_classifier_per_pixel(tensors):
    fs, ft = tensors['fs'], tensors['ft']
    w4 = tensors['w'][:, :, None, None]
    y = torch.randint(
        0, 7, (3, 10, 12), generator=torch.Generator().manual_seed(1))
    y[0, :4] = 255
    co, _ = np_attention(fs.numpy(), ft.numpy())
    logits = np.einsum('bchw,kc->bkhw', np.maximum(fs.numpy(), 0) * co,
                       tensors['w'].numpy()) + \
        tensors['b'].numpy()[None, :, None, None]
    small = y[:, ::2, ::2].numpy()  # nearest downsampling 10x12 -> 5x6
    flat = logits.transpose(0, 2, 3, 1).reshape(-1, 7)
    keep = small.reshape(-1) != 255
    expected = np_ce(flat[keep], small.reshape(-1)[keep])
    got = adm_consensus_loss(fs, adm_attention(fs, ft)[0], w4, tensors['b'], y)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_identical_features_give_uniform_consensus_and_zero_divergence(
        tensors):
    fs = tensors['fs']
    co, di = adm_attention(fs, fs.clone())
    assert torch.allclose(co, torch.ones_like(co), atol=1e-4)
    # 1 - S is zero up to rounding (~1e-7), divided by its mean + eps:
    # the degenerate map is ~0 and never negative.
    assert (di >= 0).all() and di.max() < 0.05
    plain = torch.nn.functional.cross_entropy(
        torch.relu(fs).mean((2, 3)) @ tensors['w'].T + tensors['b'],
        tensors['y'])
    got = adm_consensus_loss(fs, co, tensors['w'], tensors['b'], tensors['y'])
    assert got.item() == pytest.approx(plain.item(), rel=1e-3)


def test_similarity_carries_no_gradient(tensors):
    fs = tensors['fs'].clone().requires_grad_()
    ft = tensors['ft'].clone().requires_grad_()
    aligned = fs * 2
    attn_co, attn_di = adm_attention(aligned, ft)
    assert not attn_co.requires_grad and not attn_di.requires_grad
    adm_consensus_loss(fs, attn_co, tensors['w'], tensors['b'],
                       tensors['y']).backward()
    assert ft.grad is None and fs.grad.abs().sum() > 0
    adm_divergence_loss(ft, attn_di, tensors['w'], tensors['b'],
                        tensors['y']).backward()
    assert ft.grad.abs().sum() > 0


def test_feature_loss_weights_deepest_stage_one_half():
    s = [torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2)]
    t = [torch.ones(1, 2, 2, 2), 3 * torch.ones(1, 2, 2, 2)]
    # MSEs 1 and 9, weights 1/4 and 1/2.
    assert adm_feature_loss(s, t).item() == pytest.approx(0.25 + 4.5)


def test_feature_loss_resizes_student_and_detaches_teacher():
    s = torch.zeros(1, 2, 2, 2, requires_grad=True)
    t = torch.ones(1, 2, 4, 4, requires_grad=True)
    loss = adm_feature_loss([s], [t])
    loss.backward()
    assert loss.item() == pytest.approx(0.5)
    assert t.grad is None and s.grad is not None


def test_kd_form_matches_hand_composition(tensors):
    fs, ft, w, b, y = (tensors[k] for k in ('fs', 'ft', 'w', 'b', 'y'))
    co, _ = adm_attention(fs, ft)
    logits_s = (torch.relu(fs) * co).mean((2, 3)) @ w.T + b
    logits_t = (torch.relu(ft) * co).mean((2, 3)) @ w.T + b
    loss = ADMConsensusLoss(loss_weight=0.5, form='kd')
    loss.task = ClsTask()
    loss = loss(fs, co, w, b, y, ft, w, b)
    assert loss.item() == pytest.approx(
        0.5 * dml_kl(logits_s, logits_t).item(), rel=1e-5)


def test_classification_cross_entropy_keeps_class_255():
    """ImageNet has a class 255: the classification task gives no ignore
    label, and with none every sample counts."""
    from mmokd.models.losses.functional import dense_cross_entropy
    logits = torch.randn(3, 300, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([255, 3, 299])
    expected = np_ce(logits.numpy(), target.numpy())
    ignored = ClsTask().ignored_label(255)
    assert dense_cross_entropy(logits, target, ignored).item() == \
        pytest.approx(expected, rel=1e-5)


def test_attention_of_another_size_is_resized_to_the_features(tensors):
    fs, w, b, y = (tensors[k] for k in ('fs', 'w', 'b', 'y'))
    small = torch.rand(3, 1, 5, 3) + 0.5
    resized = torch.nn.functional.interpolate(
        small, size=(5, 6), mode='bilinear', align_corners=False)
    expected = np_attended_ce(fs.numpy(), resized.numpy(), w.numpy(),
                              b.numpy(), y.numpy())
    got = adm_consensus_loss(fs, small, w, b, y)
    assert got.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize('weight_dims', [2, 4])
def test_half_precision_features_with_all_zero_positions(tensors, weight_dims):
    """Under AMP, post-ReLU maps in float16 with an all-zero position."""
    fs, ft = tensors['fs'].relu(), tensors['ft'].relu()
    fs[0, :, 0, 0] = 0
    ft[1, :, 2, 3] = 0
    co, di = adm_attention(fs.half(), ft.half())
    ref_co, ref_di = adm_attention(fs, ft)
    assert co.dtype == torch.float32
    assert torch.allclose(co, ref_co, atol=2e-3)
    assert torch.allclose(di, ref_di, atol=2e-3)
    w, b = tensors['w'].half(), tensors['b'].half()
    if weight_dims == 4:
        w = w[:, :, None, None]
    logits = attended_logits(fs.half(), co, w, b)
    assert logits.dtype == torch.float16 and logits.isfinite().all()
