"""KDCL on detectors: one ensemble per prior and class from the student
head's own targets; each network's term towards it over assigned priors;
settings detection does not define are refused."""
import copy

import numpy as np
import pytest
import torch

from mmokd.models.algorithms.dml import LOGITS
from mmokd.models.losses.functional import (det_dml_kl, det_kdcl_ensemble,
                                            det_onehot_levels)
from mmokd.registry import MODELS
from tests.test_det.det_helpers import (build_algorithm, tiny_coco_batch,
                                        tiny_dml_model_cfg)

KDCL_RETINANET = 'configs/kdcl/retinanet_r101_r18_coco.py'


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    from mmokd.datasets import write_tiny_coco
    root = write_tiny_coco(str(tmp_path_factory.mktemp('coco')), 2, 2)
    return tiny_coco_batch(root)


def test_onehot_levels_and_ensembles_match_numpy():
    gen = torch.Generator().manual_seed(0)
    n, a, k, h, w = 2, 3, 4, 2, 3
    labels = [torch.randint(0, k + 1, (n, h * w * a), generator=gen)]
    scores = [[torch.randn(n, a * k, h, w, generator=gen)]
              for _ in range(3)]
    onehot = det_onehot_levels(labels, scores[0], k)[0]
    y = np.zeros((n, h, w, a, k))
    lab = labels[0].numpy().reshape(n, h, w, a)
    for idx in np.ndindex(n, h, w, a):
        if lab[idx] < k:
            y[idx + (lab[idx], )] = 1
    grid = lambda z: z.reshape(n, a, k, h, w).transpose(0, 3, 4, 1, 2)  # noqa
    np.testing.assert_array_equal(grid(onehot.numpy()), y)
    z = np.stack([grid(s[0].numpy()) for s in scores])  # (M, n, h, w, a, k)
    minlogit = grid(det_kdcl_ensemble(scores, [onehot], k)[0].numpy())
    np.testing.assert_allclose(
        minlogit, np.where(y == 1, z.max(0), z.min(0)))
    mean = grid(det_kdcl_ensemble(scores, [onehot], k, 'mean')[0].numpy())
    np.testing.assert_allclose(mean, z.mean(0), rtol=1e-6)
    naive = grid(det_kdcl_ensemble(scores, [onehot], k, 'naive')[0].numpy())
    bce = (np.logaddexp(0, z) - y * z).sum(-1)  # (M, n, h, w, a)
    best = bce.argmin(0)
    expected = np.take_along_axis(z, best[None, ..., None], 0)[0]
    np.testing.assert_allclose(naive, expected, rtol=1e-6)
    with pytest.raises(ValueError, match='linear'):
        det_kdcl_ensemble(scores, [onehot], k, 'linear')


def test_every_network_learns_from_one_ensemble(batch):
    torch.manual_seed(0)
    algorithm = build_algorithm(tiny_dml_model_cfg(KDCL_RETINANET))
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    student = algorithm.record('student', LOGITS)
    teacher = algorithm.record('teacher', LOGITS)
    onehot = det_onehot_levels(student.targets['labels'],
                               student.cls_scores, 80)
    ensemble = det_kdcl_ensemble(
        [student.cls_scores, teacher.cls_scores], onehot, 80)
    assigned = [v & (w > 0) for v, w in zip(
        student.valid, student.targets['label_weights'])]
    for name, record in (('student', student), ('teacher', teacher)):
        expected = det_dml_kl(record.cls_scores, ensemble, assigned, 80)
        torch.testing.assert_close(losses[name]['loss_kdcl'], expected)
    losses['student']['loss_kdcl'].backward()
    assert all(p.grad is None for p in algorithm.teacher.parameters())


@pytest.mark.parametrize('options,match', [
    (dict(ensemble_strategy='general'), 'ensemble_strategy'),
    (dict(ensemble_strategy='linear'), 'ensemble_strategy'),
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
