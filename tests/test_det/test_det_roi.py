"""RoI cross-evaluation on two Faster R-CNNs: each network's sampled RoIs,
classified by the other's box head on the other's FPN maps, against its
own logits; computed here independently."""
import copy

import numpy as np
import pytest
import torch

from mmokd.models.losses import DetRoIDMLLoss
from tests.test_det.det_helpers import (build_algorithm, tiny_coco_batch,
                                        tiny_dml_model_cfg)

FASTER_DML = 'configs/dml/faster-rcnn_r101_r50_coco.py'


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    from mmokd.datasets import write_tiny_coco
    root = write_tiny_coco(str(tmp_path_factory.mktemp('coco')), 2, 2)
    return tiny_coco_batch(root)


def np_kl(target_logits, logits):
    def log_softmax(z):
        z = np.asarray(z, np.float64)
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    log_t, log_s = log_softmax(target_logits), log_softmax(logits)
    return (np.exp(log_t) * (log_t - log_s)).sum(1)


def test_cross_evaluation_matches_an_independent_forward(batch):
    torch.manual_seed(0)
    algorithm = build_algorithm(tiny_dml_model_cfg(FASTER_DML,
                                                   'faster-rcnn'))
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    student = algorithm.record('student', 'rois')
    # The sampled RoIs include every ground-truth box.
    for index, sample in enumerate(data['data_samples']):
        mine = student.rois[student.rois[:, 0] == index, 1:]
        for box in sample.gt_instances.bboxes:
            assert (mine - box).abs().sum(1).min() < 1e-4
    teacher = algorithm.teacher
    with torch.no_grad():
        feats = teacher.extract_feat(data['inputs'])
        extractor = teacher.roi_head.bbox_roi_extractor
        pooled = extractor(feats[:extractor.num_inputs], student.rois)
        cross = teacher.roi_head.bbox_head(pooled)[0]
    assert cross.shape == student.cls_score.shape == (len(student.rois),
                                                      81)
    expected = np_kl(cross.numpy(), student.cls_score.detach().numpy())
    assert float(losses['student']['loss_dml_roi']) == pytest.approx(
        expected.mean(), rel=1e-5)
    losses['student']['loss_dml_roi'].backward()
    assert algorithm.student.roi_head.bbox_head.fc_cls.weight.grad.abs(
    ).sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match='tau'):
        DetRoIDMLLoss(tau=-1)
    with pytest.raises(ValueError, match='peer_reduction'):
        DetRoIDMLLoss(peer_reduction='max')
