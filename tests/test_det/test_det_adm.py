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


def _cfg(**distiller):
    cfg = tiny_dml_model_cfg(ADM_RETINANET)
    cfg.distiller.channels = dict(student=32, teacher=32)
    cfg.distiller.update(distiller)
    return cfg


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


def test_attended_term_with_attention_one_is_the_heads_loss(batch):
    torch.manual_seed(0)
    algorithm = build_algorithm(_cfg())
    data = algorithm.data_preprocessor(copy.deepcopy(batch), True)
    losses = algorithm.peer_losses(**data)
    recorders = algorithm.distiller.recorders['student']
    head = recorders.get_recorder('adm_head').get_record_data()
    feats = [
        recorders.get_recorder('adm_cls_in').get_record_data(level, 0)
        for level in range(5)
    ]
    ones = [torch.ones_like(f[:, :1]) for f in feats]
    value = DetADMClsLoss(1.0, 'retina_cls')(feats, ones, head)
    torch.testing.assert_close(
        value, sum(losses['student']['loss_cls']), rtol=1e-6, atol=1e-6)
    # Each term reaches only its owner.
    losses['student']['loss_adm_consensus'].backward(retain_graph=True)
    losses['student']['loss_adm_feature'].backward(retain_graph=True)
    assert all(p.grad is None for p in algorithm.teacher.parameters())
    assert algorithm.student.bbox_head.retina_cls.weight.grad.abs().sum() > 0
    algorithm.zero_grad(set_to_none=True)
    losses['teacher']['loss_adm_divergence'].backward()
    assert all(p.grad is None for p in algorithm.student.parameters())


def test_channels_must_be_the_fpns():
    with pytest.raises(ValueError, match=r'channels\.student: 256, but the '
                       'FPN "neck" of "student" has out_channels=32'):
        MODELS.build(tiny_dml_model_cfg(ADM_RETINANET))


def test_unsupported_heads_are_refused():
    cfg = tiny_dml_model_cfg(ADM_RETINANET, 'gfl', type='OnlineDistill')
    cfg.pop('logits'), cfg.pop('dml_loss')
    cfg.distiller.channels = dict(student=32, teacher=32)
    with pytest.raises(ValueError, match=r'head: "bbox_head" of "student" '
                       'is a GFLHead'):
        MODELS.build(cfg)
