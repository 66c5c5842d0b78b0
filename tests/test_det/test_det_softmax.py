"""Softmax dense heads (RetinaNet with ``use_sigmoid=False``: K = C + 1
logits per prior, background the last) under DML, KDCL and SwitOKD: each
term equals its definition over C + 1 classes computed here in numpy."""
import copy
import math

import numpy as np
import pytest
import torch

from mmokd.models.algorithms.dml import LOGITS
from tests.test_det.det_helpers import (build_algorithm, tiny_coco_batch,
                                        tiny_dml_model_cfg)

K = 81
#: RetinaNet's classifier as a softmax over 80 classes and background.
SOFTMAX = {
    'model.bbox_head.loss_cls':
    dict(_delete_=True, type='CrossEntropyLoss', use_sigmoid=False,
         loss_weight=1.0)
}


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    from mmokd.datasets import write_tiny_coco
    root = write_tiny_coco(str(tmp_path_factory.mktemp('coco')), 2, 2)
    return tiny_coco_batch(root)


def softmax_step(path, batch, seed=0, **model):
    """A tiny softmax-RetinaNet pair under the algorithm of ``path``, one
    step: the algorithm, its losses and both dense-head records."""
    cfg = tiny_dml_model_cfg(path, **model)
    for peer in cfg.peers.values():
        peer.cfg_options.update(copy.deepcopy(SOFTMAX))
    torch.manual_seed(seed)
    algorithm = build_algorithm(cfg)
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    records = [algorithm.record(name, LOGITS) for name in ('student',
                                                           'teacher')]
    assert [(r.num_logits, r.activation) for r in records] == \
        [(K, 'softmax')] * 2
    return algorithm, data, losses, records


def rows(record):
    """Logits as float64 rows in mmdet's order (level, image, y, x,
    prior)."""
    return np.concatenate([
        s.detach().permute(0, 2, 3, 1).reshape(-1, K).numpy()
        for s in record.cls_scores
    ]).astype(np.float64)


def log_softmax(z):
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def mean_kl(target, learner):
    """mean_p KL(softmax(target_p) || softmax(learner_p))."""
    log_t, log_s = log_softmax(target), log_softmax(learner)
    return float((np.exp(log_t) * (log_t - log_s)).sum(1).mean())


def test_dml_is_the_mean_kl_over_valid_priors(batch):
    _, _, losses, (student, teacher) = softmax_step(
        'configs/dml/retinanet_r101_r18_coco.py', batch)
    valid = torch.cat([m.reshape(-1) for m in teacher.valid]).numpy()
    expected = mean_kl(rows(teacher)[valid], rows(student)[valid])
    assert float(losses['student']['loss_dml']) == pytest.approx(
        expected, rel=1e-5)


@pytest.mark.parametrize('strategy', ['minlogit', 'linear'])
def test_kdcl_over_c_plus_one_classes(batch, strategy):
    """MinLogit: min_i (z_i - z_i[y]); linear: the mixture of the two
    heads of least mean cross-entropy (alpha by scipy's bounded scalar
    minimiser). KL to it over the assigned priors."""
    _, _, losses, (student, teacher) = softmax_step(
        'configs/kdcl/retinanet_r101_r18_coco.py', batch,
        ensemble_strategy=strategy)
    labels, assigned = (t.numpy() for t in student.target_rows())
    z = np.stack([rows(student), rows(teacher)])[:, assigned]
    y = labels[assigned]
    if strategy == 'minlogit':
        ensemble = (z - z[:, np.arange(len(y)), y][..., None]).min(0)
    else:
        def ce(t):
            return -log_softmax(t)[np.arange(len(y)), y].mean()

        from scipy.optimize import minimize_scalar
        best = minimize_scalar(
            lambda a: ce(a * z[0] + (1 - a) * z[1]), bounds=(0, 1),
            method='bounded', options=dict(xatol=1e-7)).x
        ensemble = best * z[0] + (1 - best) * z[1]
    for name, own in (('student', z[0]), ('teacher', z[1])):
        # float32 KL of nearly equal distributions: about 1e-5 relative.
        assert float(losses[name]['loss_kdcl']) == pytest.approx(
            mean_kl(ensemble, own), rel=1e-4)


def test_switokd_statistics_over_c_plus_one_classes(batch):
    algorithm, data, losses, (student, teacher) = softmax_step(
        'configs/switokd/retinanet_r101_r18_coco.py', batch)
    log_vars = {}
    algorithm.reweight_losses(losses, data['data_samples'], log_vars)
    labels, valid = (t.numpy() for t in student.target_rows())
    p_s = np.exp(log_softmax(rows(student)[valid]))
    p_t = np.exp(log_softmax(rows(teacher)[valid]))
    y = np.eye(K)[labels[valid]]  # background: the last class
    s = np.abs(p_s - y).sum(1).mean()
    t = np.abs(p_t - y).sum(1).mean()
    gap = np.abs(p_s - p_t).sum(1).mean()
    delta = s - math.exp(-t / (s + t)) * t
    assert float(log_vars['switokd.G']) == pytest.approx(gap, rel=1e-5)
    assert float(log_vars['switokd.delta']) == pytest.approx(delta,
                                                             rel=1e-5)
