"""Golden values of GPD's label-smoothed soft cross-entropy (Guo et al.,
ICLR 2025, Sec. 3)."""
import numpy as np
import pytest
import torch

from mmokd.models.losses import GPDSoftCELoss, gpd_soft_cross_entropy
from mmokd.models.tasks import ClsTask, SegTask


def sce_reference(logits_s, logits_dt, eps):
    """Per row ``(1 - eps) H(p_D, p_S) + eps mean_c(-log p_S)``, numpy."""

    def log_softmax(z):
        z = np.asarray(z, dtype=np.float64)
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    log_p_s = log_softmax(logits_s)
    p_dt = np.exp(log_softmax(logits_dt))
    cross = -(p_dt * log_p_s).sum(-1)
    uniform = -log_p_s.mean(-1)
    return (1 - eps) * cross + eps * uniform


def test_hand_computed_two_classes():
    # p_S = (1/2, 1/2): every -log p_S = ln 2, so SCE = ln 2 for any p_D.
    value = gpd_soft_cross_entropy(
        torch.zeros(1, 2), torch.tensor([[3.0, -1.0]]))
    assert value.item() == pytest.approx(np.log(2.0))


@pytest.mark.parametrize('eps', [0.0, 0.1, 0.5])
def test_classification_matches_numpy(eps):
    gen = torch.Generator().manual_seed(0)
    logits_s = 3 * torch.randn(6, 10, generator=gen)
    logits_dt = 3 * torch.randn(6, 10, generator=gen)
    expected = sce_reference(logits_s.numpy(), logits_dt.numpy(), eps).mean()
    value = gpd_soft_cross_entropy(logits_s, logits_dt, eps)
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_dense_leaves_out_ignored_pixels_of_a_full_size_label_map():
    gen = torch.Generator().manual_seed(1)
    logits_s = torch.randn(2, 5, 3, 4, generator=gen)
    logits_dt = torch.randn(2, 5, 3, 4, generator=gen)
    labels = torch.randint(0, 5, (2, 6, 8), generator=gen)
    labels[0, :2, :2] = 255  # logit cell (0, 0, 0) at half resolution
    labels[1, :, 6:] = 255  # last logit column of sample 1
    per_pixel = sce_reference(
        logits_s.permute(0, 2, 3, 1).numpy(),
        logits_dt.permute(0, 2, 3, 1).numpy(), 0.1)
    keep = np.ones((2, 3, 4), dtype=bool)
    keep[0, 0, 0] = False
    keep[1, :, 3] = False
    value = gpd_soft_cross_entropy(logits_s, logits_dt, target=labels)
    assert value.item() == pytest.approx(per_pixel[keep].mean(), rel=1e-6)
    unmasked = gpd_soft_cross_entropy(logits_s, logits_dt)
    assert unmasked.item() == pytest.approx(per_pixel.mean(), rel=1e-6)


def test_dynamic_teacher_logits_receive_no_gradient():
    logits_s = torch.randn(4, 7, requires_grad=True)
    logits_dt = torch.randn(4, 7, requires_grad=True)
    gpd_soft_cross_entropy(logits_s, logits_dt).backward()
    assert logits_dt.grad is None
    assert logits_s.grad.abs().sum() > 0


def test_module_weights_the_term_and_routes_the_label_map():
    gen = torch.Generator().manual_seed(2)
    logits_s = torch.randn(1, 3, 2, 2, generator=gen)
    logits_dt = torch.randn(1, 3, 2, 2, generator=gen)
    labels = torch.tensor([[[255, 0], [1, 2]]])
    loss = GPDSoftCELoss(loss_weight=3.0, label_smoothing=0.2)
    loss.task = SegTask()
    expected = 3.0 * gpd_soft_cross_entropy(
        logits_s, logits_dt, 0.2, target=labels)
    assert torch.equal(loss(logits_s, logits_dt, labels), expected)
    # Classification labels are never left out, class 255 included.
    loss.task = ClsTask()
    cls_s, cls_dt = torch.randn(2, 300), torch.randn(2, 300)
    assert torch.equal(
        loss(cls_s, cls_dt, torch.tensor([255, 1])),
        3.0 * gpd_soft_cross_entropy(cls_s, cls_dt, 0.2))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='label_smoothing'):
        GPDSoftCELoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match='shape'):
        gpd_soft_cross_entropy(torch.randn(2, 3), torch.randn(2, 4))
