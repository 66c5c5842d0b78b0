"""KDCL on detectors: one ensemble per prior and class from the student
head's own targets; each network's term towards it over assigned priors;
settings detection does not define are refused."""
import copy

import numpy as np
import pytest
import torch

from mmokd.models.algorithms.dml import LOGITS
from mmokd.models.losses.functional import det_dml_kl, det_kdcl_ensemble
from mmokd.registry import MODELS
from tests.test_det.det_helpers import (build_algorithm, tiny_coco_batch,
                                        tiny_dml_model_cfg)

KDCL_RETINANET = 'configs/kdcl/retinanet_r101_r18_coco.py'


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    from mmokd.datasets import write_tiny_coco
    root = write_tiny_coco(str(tmp_path_factory.mktemp('coco')), 2, 2)
    return tiny_coco_batch(root)


def np_softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_row_loss(z, label, activation):
    """Per prior: binary cross-entropy summed over classes (sigmoid, label
    k the background) or cross-entropy (softmax); z (..., k)."""
    k = z.shape[-1]
    if activation == 'sigmoid':
        y = np.eye(k + 1)[label][..., :k]
        return (np.logaddexp(0, z) - y * z).sum(-1)
    y = np.eye(k)[label]
    return -(y * np.log(np_softmax(z))).sum(-1)


def random_heads(activation, seed=0, num_nets=3):
    """Random maps of several heads on one level, labels and assigned
    priors, with their numpy (n, h, w, a, k) grids."""
    gen = torch.Generator().manual_seed(seed)
    n, a, c, h, w = 2, 3, 4, 2, 3
    k = c if activation == 'sigmoid' else c + 1
    labels = torch.randint(0, c + 1, (n, h * w * a), generator=gen)
    assigned = torch.rand(n, h * w * a, generator=gen) > 0.3
    scores = [[2 * torch.randn(n, a * k, h, w, generator=gen)]
              for _ in range(num_nets)]
    grid = lambda z: z.reshape(n, a, k, h, w).transpose(0, 3, 4, 1, 2)  # noqa
    z = np.stack([grid(s[0].numpy()).astype(np.float64) for s in scores])
    lab = labels.numpy().reshape(n, h, w, a)
    keep = assigned.numpy().reshape(n, h, w, a)
    return scores, labels, assigned, k, grid, z, lab, keep


@pytest.mark.parametrize('activation', ['sigmoid', 'softmax'])
def test_ensembles_match_numpy(activation):
    scores, labels, assigned, k, grid, z, lab, _ = random_heads(activation)

    def ensemble(strategy):
        return grid(
            det_kdcl_ensemble(scores, [labels], [assigned], k, activation,
                              strategy)[0].numpy())

    if activation == 'sigmoid':  # MinLogit on each class's (0, z)
        y = np.eye(k + 1)[lab][..., :k]
        expected = np.where(y == 1, z.max(0), z.min(0))
    else:  # KDCL's MinLogit over C + 1 classes
        true = np.take_along_axis(z, lab[None, ..., None], -1)
        expected = (z - true).min(0)
    np.testing.assert_allclose(ensemble('minlogit'), expected, rtol=1e-6)
    np.testing.assert_allclose(ensemble('mean'), z.mean(0), rtol=1e-5,
                               atol=1e-6)
    best = np_row_loss(z, lab, activation).argmin(0)  # (n, h, w, a)
    expected = np.take_along_axis(z, best[None, ..., None], 0)[0]
    np.testing.assert_allclose(ensemble('naive'), expected, rtol=1e-6)


@pytest.mark.parametrize('activation', ['sigmoid', 'softmax'])
@pytest.mark.parametrize('seed', range(3))
def test_linear_reaches_the_numpy_grid_optimum(activation, seed):
    """Two heads: alpha on a 1/2000 grid minimising the mean loss over the
    assigned priors; the ensemble is that mixture of the logits."""
    scores, labels, assigned, k, grid, z, lab, keep = random_heads(
        activation, seed, num_nets=2)
    mixed = grid(
        det_kdcl_ensemble(scores, [labels], [assigned], k, activation,
                          'linear')[0].numpy())

    def objective(t):
        return np_row_loss(t[keep], lab[keep], activation).mean()

    values = [
        objective(a * z[0] + (1 - a) * z[1])
        for a in (i / 2000 for i in range(2001))
    ]
    assert objective(mixed) == pytest.approx(min(values), abs=1e-4)
    assert objective(mixed) <= min(objective(z[0]), objective(z[1])) + 1e-6
    # One alpha for every prior: mixed = a z0 + (1 - a) z1.
    a = ((mixed - z[1]) * (z[0] - z[1])).sum() / ((z[0] - z[1])**2).sum()
    np.testing.assert_allclose(mixed, a * z[0] + (1 - a) * z[1], atol=1e-5)


def test_every_network_learns_from_one_ensemble(batch):
    torch.manual_seed(0)
    algorithm = build_algorithm(tiny_dml_model_cfg(KDCL_RETINANET))
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    student = algorithm.record('student', LOGITS)
    teacher = algorithm.record('teacher', LOGITS)
    assigned = [v & (w > 0) for v, w in zip(
        student.valid, student.targets['label_weights'])]
    ensemble = det_kdcl_ensemble(
        [student.cls_scores, teacher.cls_scores], student.targets['labels'],
        assigned, 80)
    for name, record in (('student', student), ('teacher', teacher)):
        expected = det_dml_kl(record.cls_scores, ensemble, assigned, 80)
        torch.testing.assert_close(losses[name]['loss_kdcl'], expected)
    losses['student']['loss_kdcl'].backward()
    assert all(p.grad is None for p in algorithm.teacher.parameters())


@pytest.mark.parametrize('options,match', [
    (dict(ensemble_strategy='general'), 'ensemble_strategy'),
    (dict(data_preprocessor=dict(num_views=2)), 'num_views'),
])
def test_unsupported_settings_are_refused(options, match):
    cfg = tiny_dml_model_cfg(KDCL_RETINANET, **options)
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


def test_two_stage_detectors_are_refused():
    cfg = tiny_dml_model_cfg(
        KDCL_RETINANET, 'faster-rcnn',
        logits=dict(type='mmokd.DenseHead', source='rpn_head'))
    with pytest.raises(ValueError, match=r'model\.peers\.student: KDCL on '
                       'two-stage'):
        MODELS.build(cfg)
