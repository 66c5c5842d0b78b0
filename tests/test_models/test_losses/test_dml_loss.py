"""Golden values and invariants of the DML loss (Zhang et al., CVPR 2018,
Eq. 2)."""
import math

import numpy as np
import pytest
import torch

from mmokd.models.losses import DMLLoss, dml_kl
from mmokd.models.tasks import ClsTask, SegTask


def kl_reference(logits_s, logits_t, tau):
    """tau^2 * KL(p_t || p_s) per row, computed with plain numpy."""

    def softmax(z):
        z = np.asarray(z, dtype=np.float64) / tau
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    p_s, p_t = softmax(logits_s), softmax(logits_t)
    return tau**2 * (p_t * (np.log(p_t) - np.log(p_s))).sum(-1)


def test_two_class_hand_computed_value():
    # p_s = softmax([0, 0]) = (0.5, 0.5); p_t = softmax([ln 3, 0]) =
    # (0.75, 0.25); KL = 0.75 ln 1.5 + 0.25 ln 0.5.
    logits_s = torch.tensor([[0.0, 0.0]])
    logits_t = torch.tensor([[math.log(3.0), 0.0]])
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert dml_kl(logits_s, logits_t).item() == pytest.approx(expected)


@pytest.mark.parametrize('tau', [1.0, 2.0, 4.0])
def test_classification_matches_numpy(tau):
    gen = torch.Generator().manual_seed(0)
    logits_s = torch.randn(5, 7, generator=gen)
    logits_t = torch.randn(5, 7, generator=gen)
    expected = kl_reference(logits_s.numpy(), logits_t.numpy(), tau).mean()
    assert dml_kl(logits_s, logits_t, tau).item() == pytest.approx(
        expected, rel=1e-5)


def test_dense_ignores_masked_pixels():
    gen = torch.Generator().manual_seed(1)
    logits_s = torch.randn(2, 4, 3, 5, generator=gen)
    logits_t = torch.randn(2, 4, 3, 5, generator=gen)
    mask = torch.zeros(2, 3, 5, dtype=torch.bool)
    mask[0, 0] = True
    mask[1, :, 4] = True
    per_pixel = kl_reference(
        logits_s.permute(0, 2, 3, 1).numpy(),
        logits_t.permute(0, 2, 3, 1).numpy(), 1.0)
    expected = per_pixel[~mask.numpy()].mean()
    target = torch.where(mask, 255, 0)
    assert dml_kl(logits_s, logits_t, target=target,
                  ignore_index=255).item() == pytest.approx(expected, rel=1e-5)
    assert dml_kl(logits_s, logits_t, target=target).item() == \
        pytest.approx(per_pixel.mean(), rel=1e-5)


def test_full_resolution_mask_is_downsampled_by_nearest():
    logits_s = torch.randn(1, 3, 2, 2)
    logits_t = torch.randn(1, 3, 2, 2)
    target = torch.zeros(1, 8, 8, dtype=torch.long)
    target[:, :4, :4] = 255  # exactly the top-left logit cell
    small = torch.tensor([[[255, 0], [0, 0]]])
    assert torch.allclose(
        dml_kl(logits_s, logits_t, target=target, ignore_index=255),
        dml_kl(logits_s, logits_t, target=small, ignore_index=255))


def test_all_ignored_gives_zero():
    target = torch.full((1, 2, 2), 255)
    loss = dml_kl(
        torch.randn(1, 3, 2, 2), torch.randn(1, 3, 2, 2), target=target,
        ignore_index=255)
    assert loss.item() == 0.0


def test_peer_of_other_size_is_resized_bilinearly():
    logits_s = torch.randn(1, 3, 4, 4)
    logits_t = torch.randn(1, 3, 2, 2)
    resized = torch.nn.functional.interpolate(
        logits_t, size=(4, 4), mode='bilinear', align_corners=False)
    assert torch.allclose(
        dml_kl(logits_s, logits_t), dml_kl(logits_s, resized))


def test_identical_logits_give_zero_and_zero_gradient():
    logits = torch.randn(4, 10, requires_grad=True)
    loss = dml_kl(logits, logits.detach().clone())
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    assert torch.allclose(
        logits.grad, torch.zeros_like(logits.grad), atol=1e-7)


def test_peer_side_gets_no_gradient():
    logits_s = torch.randn(4, 10, requires_grad=True)
    logits_t = torch.randn(4, 10, requires_grad=True)
    dml_kl(logits_s, logits_t).backward()
    assert logits_s.grad is not None and logits_s.grad.abs().sum() > 0
    assert logits_t.grad is None


def test_tau_squared_scaling():
    a, b = torch.randn(3, 6), torch.randn(3, 6)
    assert torch.allclose(dml_kl(a, b, tau=3.0), 9.0 * dml_kl(a / 3, b / 3))


def test_batchmean_is_invariant_to_duplicating_the_batch():
    a, b = torch.randn(3, 6), torch.randn(3, 6)
    assert torch.allclose(
        dml_kl(a, b), dml_kl(torch.cat([a, a]), torch.cat([b, b])))


def task_loss(task, **kwargs) -> DMLLoss:
    """A DMLLoss with its task set, as an algorithm sets it."""
    loss = DMLLoss(**kwargs)
    loss.task = task
    return loss


def test_module_weight_and_peer_reduction():
    s, t1, t2 = torch.randn(3, 5), torch.randn(3, 5), torch.randn(3, 5)
    mean = task_loss(ClsTask(), loss_weight=2.0)(s, [t1, t2])
    total = task_loss(
        ClsTask(), loss_weight=2.0, peer_reduction='sum')(s, [t1, t2])
    assert torch.allclose(mean, (dml_kl(s, t1) + dml_kl(s, t2)))
    assert torch.allclose(total, 2 * mean)
    assert torch.allclose(
        task_loss(ClsTask())(s, t1), task_loss(ClsTask())(s, [t1]))


def test_module_uses_ignore_index_for_dense_logits():
    s, t = torch.randn(1, 3, 2, 2), torch.randn(1, 3, 2, 2)
    gt = torch.tensor([[[255, 0], [1, 2]]])
    expected = dml_kl(s, t, target=gt, ignore_index=255)
    assert torch.allclose(task_loss(SegTask())(s, t, gt), expected)
    assert not torch.allclose(task_loss(SegTask())(s, t, gt), dml_kl(s, t))


def test_classification_label_255_is_a_real_class():
    """The task, not the shape, says labels are never left out."""
    s, t = torch.randn(3, 300), torch.randn(3, 300)
    gt = torch.tensor([255, 255, 1])
    assert torch.allclose(task_loss(ClsTask())(s, t, gt), dml_kl(s, t))
    assert not torch.allclose(
        dml_kl(s, t, target=gt, ignore_index=255), dml_kl(s, t))


def test_module_without_a_task_says_how_to_set_it():
    with pytest.raises(RuntimeError, match='loss.task = mmokd.ClsTask'):
        DMLLoss()(torch.randn(2, 3), torch.randn(2, 3))


def test_bad_peer_reduction_is_rejected():
    with pytest.raises(ValueError, match='peer_reduction'):
        DMLLoss(peer_reduction='max')
