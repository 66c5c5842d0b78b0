"""ADM on two RetinaNets' FPN levels: attention and feature term against
numpy, the attended term equals the head's own loss with attention 1,
terms reach only their owner, settings are checked against the
networks."""
import copy

import numpy as np
import pytest
import torch

from mmokd.models.losses import DetADMClsLoss
from mmokd.models.losses.functional import (det_adm_attention,
                                            det_feature_mse)
from mmokd.registry import MODELS
from tests.test_det.det_helpers import (build_algorithm, tiny_coco_batch,
                                        tiny_dml_model_cfg)

ADM_RETINANET = 'configs/adm/retinanet_r101_r18_coco.py'


@pytest.fixture(scope='module')
def batch(tmp_path_factory):
    from mmokd.datasets import write_tiny_coco
    root = write_tiny_coco(str(tmp_path_factory.mktemp('coco')), 2, 2)
    return tiny_coco_batch(root)


def test_attention_and_feature_term_match_numpy():
    gen = torch.Generator().manual_seed(0)
    feat_s = torch.randn(2, 4, 3, 5, generator=gen)
    feat_t = torch.randn(2, 4, 3, 5, generator=gen)
    inside = torch.ones(2, 1, 3, 5)
    inside[1, :, 2:, :] = 0
    inside[1, :, :, 3:] = 0
    consensus, divergence = det_adm_attention(feat_s, feat_t, inside, 1e-5)
    s, t, m = feat_s.numpy(), feat_t.numpy(), inside.numpy()[:, 0]
    sim = (s * t).sum(1) / (np.linalg.norm(s, axis=1) *
                            np.linalg.norm(t, axis=1))
    mean = (sim * m).sum((1, 2)) / m.sum((1, 2))
    np.testing.assert_allclose(
        consensus[:, 0].numpy(), (1 + sim) / (1 + 1e-5 + mean[:, None, None]),
        rtol=1e-5)
    np.testing.assert_allclose(
        divergence[:, 0].numpy(),
        (1 - sim) / (1 + 1e-5 - mean[:, None, None]), rtol=1e-5)
    mse = det_feature_mse([feat_s], [feat_t], [inside])
    expected = (((s - t)**2) * m[:, None]).sum() / (m.sum() * 4)
    assert float(mse) == pytest.approx(expected, rel=1e-5)


#: ``(family, head, classifier)`` of each supported dense head.
HEADS = [('retinanet', 'bbox_head', 'retina_cls'),
         ('gfl', 'bbox_head', 'gfl_cls'), ('fcos', 'bbox_head', 'conv_cls'),
         ('faster-rcnn', 'rpn_head', 'rpn_cls')]


def _adm_only(family, **distiller):
    """Feature-level ADM alone (OnlineDistill) on two tiny detectors."""
    cfg = tiny_dml_model_cfg(ADM_RETINANET, family, type='OnlineDistill')
    cfg.pop('logits'), cfg.pop('dml_loss')
    cfg.distiller.channels = dict(student=32, teacher=32)
    cfg.distiller.update(distiller)
    return cfg


@pytest.mark.parametrize('family,head,classifier', HEADS)
def test_attended_term_with_attention_one_is_the_heads_loss(
        batch, family, head, classifier):
    torch.manual_seed(0)
    algorithm = build_algorithm(
        _adm_only(family, head=head, classifier=classifier))
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    recorders = algorithm.distiller.recorders['student']
    record = recorders.get_recorder('adm_head').get_record_data()
    feats = [
        recorders.get_recorder('adm_cls_in').get_record_data(level, 0)
        for level in range(5)
    ]
    ones = [torch.ones_like(f[:, :1]) for f in feats]
    value = DetADMClsLoss(1.0, classifier)(feats, ones, record)
    key = 'loss_rpn_cls' if head == 'rpn_head' else 'loss_cls'
    own = losses['student'][key]
    own = sum(own) if isinstance(own, list) else own
    torch.testing.assert_close(value, own, rtol=1e-6, atol=1e-6)
    # Each term reaches only its owner.
    losses['student']['loss_adm_consensus'].backward(retain_graph=True)
    losses['student']['loss_adm_feature'].backward(retain_graph=True)
    assert all(p.grad is None for p in algorithm.teacher.parameters())
    conv = getattr(getattr(algorithm.student, head), classifier)
    assert conv.weight.grad.abs().sum() > 0
    algorithm.zero_grad(set_to_none=True)
    losses['teacher']['loss_adm_divergence'].backward()
    assert all(p.grad is None for p in algorithm.student.parameters())


def test_heads_of_other_layouts_train_with_adm(batch):
    """A GFL teacher and a RetinaNet student: refused by logit terms
    (test_det_matching), one ADM step here."""
    cfg = _adm_only('retinanet',
                    classifier=dict(student='retina_cls', teacher='gfl_cls'))
    gfl = tiny_dml_model_cfg(ADM_RETINANET, 'gfl').peers.teacher
    cfg.peers.teacher = gfl
    torch.manual_seed(0)
    algorithm = build_algorithm(cfg)
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    for name, term in (('student', 'loss_adm_consensus'),
                       ('teacher', 'loss_adm_divergence')):
        assert torch.isfinite(losses[name][term]) and losses[name][term] > 0


def test_channels_must_be_the_fpns():
    with pytest.raises(ValueError, match=r'channels\.student: 256, but the '
                       'FPN "neck" of "student" has out_channels=32'):
        MODELS.build(tiny_dml_model_cfg(ADM_RETINANET))


def test_a_head_without_the_classifier_is_refused():
    with pytest.raises(ValueError, match=r'classifier: "bbox_head" of '
                       r'"student" \(RetinaHead\) has no classifier conv '
                       '"gfl_cls"'):
        MODELS.build(_adm_only('retinanet', classifier='gfl_cls'))
