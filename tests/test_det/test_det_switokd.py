"""SwitOKD on detectors: the switch reads the student head's own targets,
and its decision is the rule on sums computed here independently."""
import copy
import math

import numpy as np
import pytest
import torch

from mmokd.models.algorithms.dml import LOGITS
from tests.test_det.det_helpers import (build_algorithm, tiny_coco_batch,
                                        tiny_dml_model_cfg)


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    from mmokd.datasets import write_tiny_coco
    root = write_tiny_coco(str(tmp_path_factory.mktemp('coco')), 2, 2)
    return tiny_coco_batch(root)


def _step(algorithm, batch):
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    return data, losses


@pytest.mark.parametrize('path,family,num_classes', [
    ('configs/switokd/retinanet_r101_r18_coco.py', 'retinanet', 80),
    ('configs/switokd/gfl_r101_r50_coco.py', 'gfl', 80),
    ('configs/dml/fcos_r101_r50_coco.py', 'fcos', 80),
    ('configs/switokd/faster-rcnn_r101_r50_coco.py', 'faster-rcnn', 1),
])
def test_head_targets_are_recorded(batch, path, family, num_classes):
    torch.manual_seed(0)
    algorithm = build_algorithm(tiny_dml_model_cfg(path, family))
    _step(algorithm, batch)
    record = algorithm.record('student', LOGITS)
    labels, valid = record.target_rows()
    rows = sum(score.numel() // record.num_logits
               for score in record.cls_scores)
    assert labels.shape == valid.shape == (rows, )
    assert set(labels.unique().tolist()) <= set(range(num_classes + 1))
    positives = int(((labels < num_classes) & valid).sum())
    assert positives > 0 and valid.sum() > positives
    if family in ('retinanet', 'fcos'):  # pseudo sampler: the positives
        assert float(record.targets['avg_factor']) == positives


def test_switch_decides_by_the_rule_on_the_sums(batch):
    torch.manual_seed(0)
    algorithm = build_algorithm(
        tiny_dml_model_cfg('configs/switokd/retinanet_r101_r18_coco.py'))
    data, losses = _step(algorithm, batch)
    log_vars = {}
    algorithm.reweight_losses(losses, data['data_samples'], log_vars)
    student = algorithm.record('student', LOGITS)
    teacher = algorithm.record('teacher', LOGITS)
    labels, valid = (t.numpy() for t in student.target_rows())

    def probs(record):
        rows = np.concatenate([
            s.detach().permute(0, 2, 3, 1).reshape(-1, 80).numpy()
            for s in record.cls_scores
        ])[valid].astype(np.float64)
        return 1 / (1 + np.exp(-rows))

    p_s, p_t = probs(student), probs(teacher)
    y = np.zeros_like(p_s)
    for row, label in enumerate(labels[valid]):
        if label < 80:
            y[row, label] = 1
    s = np.abs(p_s - y).sum(1).mean()
    t = np.abs(p_t - y).sum(1).mean()
    gap = np.abs(p_s - p_t).sum(1).mean()
    delta = s - math.exp(-t / (s + t)) * t
    assert float(log_vars['switokd.delta']) == pytest.approx(delta,
                                                             rel=1e-5)
    assert float(log_vars['switokd.G']) == pytest.approx(gap, rel=1e-5)
    expert = gap > delta and t < s
    assert float(log_vars['switokd.expert']) == float(expert)
    assert algorithm.peers_to_update() == (
        ['student'] if expert else ['student', 'teacher'])
