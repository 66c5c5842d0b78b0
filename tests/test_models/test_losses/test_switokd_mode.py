"""SwitOKD's switching rule: golden values and invariants (W4-W6)."""
import math

import numpy as np
import pytest
import torch

from mmokd.models.losses import (switokd_decision, switokd_mode,
                                 switokd_statistics)
from mmokd.models.tasks import ClsTask


def np_rule(logits_s, logits_t, target):
    """The authors' rule with plain numpy (batch means, tau = 1)."""

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    p_s, p_t = softmax(logits_s), softmax(logits_t)
    y = np.eye(logits_s.shape[1])[target]
    s = np.abs(p_s - y).sum(1).mean()
    t = np.abs(p_t - y).sum(1).mean()
    gap = np.abs(p_s - p_t).sum(1).mean()
    delta = s - math.exp(-t / (s + t)) * t
    return gap > delta and t < s, delta, gap


@pytest.mark.parametrize('seed', range(5))
def test_matches_numpy_on_random_batches(seed):
    gen = torch.Generator().manual_seed(seed)
    zs, zt = torch.randn(
        6, 5, generator=gen) * 3, torch.randn(
            6, 5, generator=gen) * 3
    y = torch.randint(0, 5, (6, ), generator=gen)
    expert, delta, gap = switokd_mode(zs, zt, y)
    ref = np_rule(zs.double().numpy(), zt.double().numpy(), y.numpy())
    assert expert == ref[0]
    assert delta == pytest.approx(ref[1], rel=1e-5)
    assert gap == pytest.approx(ref[2], rel=1e-5)


def test_hand_computed_expert_case():
    # Student confidently wrong (class 1), teacher 0.9 on the label (0):
    # s = 2, t = 0.2, G = 2, delta = 2 - exp(-0.2 / 2.2) * 0.2 < G.
    p_s = torch.tensor([[0.0, 1.0, 0.0]])
    p_t = torch.tensor([[0.9, 0.0, 0.1]])
    zs, zt = (p.clamp(min=1e-12).log() for p in (p_s, p_t))
    expert, delta, gap = switokd_mode(zs, zt, torch.tensor([0]))
    assert expert
    assert gap == pytest.approx(2.0, abs=1e-5)
    assert delta == pytest.approx(2 - math.exp(-0.2 / 2.2) * 0.2, abs=1e-5)


def test_identical_networks_start_in_learning_mode():
    z = torch.randn(4, 7)
    expert, delta, gap = switokd_mode(z, z.clone(), torch.arange(4))
    assert not expert and gap == pytest.approx(0.0) and delta >= 0


def test_teacher_not_better_means_learning_mode():
    p_s = torch.tensor([[0.9, 0.0, 0.1]])
    p_t = torch.tensor([[0.0, 1.0, 0.0]])
    zs, zt = (p.clamp(min=1e-12).log() for p in (p_s, p_t))
    assert not switokd_mode(zs, zt, torch.tensor([0]))[0]
    expert, _, _ = switokd_mode(
        zs, zt, torch.tensor([0]), require_teacher_better=False)
    assert expert  # G = 2 > delta = s - eps * t when the t < s gate is off


def test_bounds_hold_on_random_batches():
    for seed in range(20):
        gen = torch.Generator().manual_seed(seed)
        zs, zt = torch.randn(
            8, 6, generator=gen) * 4, torch.randn(
                8, 6, generator=gen) * 4
        stats = switokd_statistics(zs, zt,
                                   torch.randint(0, 6, (8, ), generator=gen))
        s, t, gap = (float(v) / 8 for v in stats[:3])
        _, delta, _ = switokd_decision(stats)
        assert 0 <= s <= 2 and 0 <= t <= 2 and 0 <= gap <= 2
        assert s - t - 1e-9 <= delta <= s - t / math.e + 1e-9


def test_sums_over_ranks_equal_the_whole_batch():
    gen = torch.Generator().manual_seed(3)
    zs, zt = torch.randn(8, 4, generator=gen), torch.randn(8, 4, generator=gen)
    y = torch.randint(0, 4, (8, ), generator=gen)
    halves = switokd_statistics(zs[:4], zt[:4], y[:4]) + \
        switokd_statistics(zs[4:], zt[4:], y[4:])
    assert switokd_decision(halves) == pytest.approx(switokd_mode(zs, zt, y))


def test_dense_statistics_skip_ignored_pixels():
    zs, zt = torch.randn(1, 3, 2, 2), torch.randn(1, 3, 2, 2)
    y = torch.tensor([[[0, 255], [1, 2]]])
    stats = switokd_statistics(zs, zt, y)
    flat = switokd_statistics(
        zs.permute(0, 2, 3, 1).reshape(4, 3)[[0, 2, 3]],
        zt.permute(0, 2, 3, 1).reshape(4, 3)[[0, 2, 3]],
        torch.tensor([0, 1, 2]))
    assert torch.allclose(stats, flat)


def test_classification_statistics_keep_class_255():
    """Class 255 is a real ImageNet class: the classification task never
    gives an ignore label, and with none every sample counts."""
    gen = torch.Generator().manual_seed(3)
    zs, zt = torch.randn(3, 300, generator=gen), torch.randn(
        3, 300, generator=gen)
    y = torch.tensor([255, 3, 299])
    ignored = ClsTask().ignored_label(255)
    expert, delta, gap = switokd_mode(zs, zt, y, ignore_index=ignored)
    ref = np_rule(zs.double().numpy(), zt.double().numpy(), y.numpy())
    assert switokd_statistics(zs, zt, y, ignored)[3].item() == 3
    assert switokd_statistics(zs, zt, y, 255)[3].item() == 2
    assert expert == ref[0]
    assert delta == pytest.approx(ref[1], rel=1e-5)
    assert gap == pytest.approx(ref[2], rel=1e-5)
