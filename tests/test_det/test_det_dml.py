"""DML on RetinaNet: with lambda = 0 each network trains exactly as
alone; the mimicry term reaches only its owner; bad settings are
refused."""
import copy

import pytest
import torch

from mmokd.models.losses import DetDMLLoss
from mmokd.models.tasks import DetTask
from tests.test_det.det_helpers import (build_algorithm, tiny_coco_batch,
                                        tiny_dml_model_cfg)


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    from mmokd.datasets import write_tiny_coco
    root = write_tiny_coco(str(tmp_path_factory.mktemp('coco')), 2, 2)
    return tiny_coco_batch(root)


def _flat(losses):
    return {
        key: sum(value) if isinstance(value, list) else value
        for key, value in losses.items()
    }


class SeededPeers:
    """Seeds the global RNG before each peer's forward (Faster R-CNN's
    proposal and RoI samplers draw from it), so a peer's plain forward can
    repeat its draws."""

    def __init__(self, algorithm, seed):
        self.seed = seed
        for name in algorithm.peer_names:
            algorithm.peer(name).register_forward_pre_hook(self.reseed)

    def reseed(self, module, args):
        torch.manual_seed(self.seed)


@pytest.mark.parametrize('path,family', [
    ('configs/dml/retinanet_r101_r18_coco.py', 'retinanet'),
    ('configs/dml/gfl_r101_r50_coco.py', 'gfl'),
    ('configs/dml/fcos_r101_r50_coco.py', 'fcos'),
    ('configs/dml/faster-rcnn_r101_r50_coco.py', 'faster-rcnn'),
])
def test_lambda_zero_equals_plain_training(batch, path, family):
    torch.manual_seed(0)
    cfg = tiny_dml_model_cfg(
        path, family,
        dml_loss=dict(type='DetDMLLoss', tau=1.0, loss_weight=0.0))
    # Faster R-CNN: the RPN's term is loss_dml_rpn, beside loss_dml_roi.
    extra_terms = {'loss_dml_rpn' if family == 'faster-rcnn' else 'loss_dml'}
    for terms in (cfg.get('distiller') or {}).get('losses', {}).values():
        for name, term in terms.items():  # Faster R-CNN: loss_dml_roi
            term.loss_weight = 0.0
            extra_terms.add(name)
    algorithm = build_algorithm(cfg)
    assert isinstance(algorithm.task, DetTask)
    SeededPeers(algorithm, seed=3)
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    plain_samples = copy.deepcopy(data['data_samples'])
    losses = algorithm.peer_losses(**data)
    for name in ('student', 'teacher'):
        plain = _flat(
            algorithm.peer(name)(data['inputs'],
                                 copy.deepcopy(plain_samples), mode='loss'))
        mine = _flat(losses[name])
        assert set(mine) == set(plain) | extra_terms
        assert all(mine[term] == 0 for term in extra_terms)
        for key, value in plain.items():
            torch.testing.assert_close(
                mine[key], value, rtol=1e-6, atol=1e-6)
    # No peer altered the shared samples.
    for before, after in zip(plain_samples, data['data_samples']):
        torch.testing.assert_close(before.gt_instances.bboxes,
                                   after.gt_instances.bboxes)
        assert before.metainfo == after.metainfo


def test_mimicry_term_reaches_only_its_owner(batch):
    torch.manual_seed(1)
    algorithm = build_algorithm(tiny_dml_model_cfg())
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    term = losses['student']['loss_dml']
    assert term > 0
    term.backward()
    student_cls = algorithm.student.bbox_head.retina_cls.weight.grad
    assert student_cls is not None and student_cls.abs().sum() > 0
    # DML mimics class posteriors only: box regression gets nothing.
    assert algorithm.student.bbox_head.retina_reg.weight.grad is None
    assert all(p.grad is None for p in algorithm.teacher.parameters())


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match='tau'):
        DetDMLLoss(tau=0)
    with pytest.raises(ValueError, match='loss_weight'):
        DetDMLLoss(loss_weight=-1)
    with pytest.raises(ValueError, match='peer_reduction'):
        DetDMLLoss(peer_reduction='max')
