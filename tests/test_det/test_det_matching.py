"""Detection peers that cannot train together are refused before
anything is built, naming the peer and the setting."""
import pytest

from mmokd.models.tasks.det_matching import (check_det_peer_configs,
                                             check_det_peers,
                                             peer_model_config)
from mmokd.registry import MODELS
from tests.test_det.det_helpers import RETINANET_R18, tiny_dml_model_cfg

RETINANET_R101 = 'mmdet::retinanet/retinanet_r101_fpn_1x_coco.py'
GFL_R50 = 'mmdet::gfl/gfl_r50_fpn_1x_coco.py'
FCOS_CAFFE = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
TOOD = 'mmdet::tood/tood_r50_fpn_1x_coco.py'
DETR = 'mmdet::detr/detr_r50_8xb2-150e_coco.py'
FASTER = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'


def _models(student, teacher, teacher_options=None):
    return {
        'student':
        peer_model_config(dict(type='mmokd.ExternalModel', cfg_path=student)),
        'teacher':
        peer_model_config(
            dict(type='mmokd.ExternalModel', cfg_path=teacher,
                 cfg_options=teacher_options)),
    }


def test_same_layout_passes():
    check_det_peers(_models(RETINANET_R18, RETINANET_R101), 'student',
                    logit_terms=True, target_terms=True)


def test_caffe_style_teacher_is_refused_for_its_preprocessing():
    with pytest.raises(ValueError) as error:
        check_det_peers(_models(RETINANET_R18, FCOS_CAFFE), 'student',
                        logit_terms=False)
    message = str(error.value)
    assert message.startswith('model.peers.teacher: its preprocessing')
    assert 'data_preprocessor.mean' in message
    assert 'data_preprocessor.std' in message


def test_other_prior_layout_is_refused_for_logit_terms_only():
    models = _models(RETINANET_R18, GFL_R50)
    with pytest.raises(ValueError) as error:
        check_det_peers(models, 'student', logit_terms=True)
    message = str(error.value)
    assert message.startswith('model.peers.teacher: its prior layout')
    assert 'GFLHead vs RetinaHead' in message
    assert 'bbox_head.anchor_generator' in message
    assert 'mmokd.ADMDistiller' in message
    # Feature-level ADM needs only aligned FPN levels.
    check_det_peers(models, 'student', logit_terms=False)


def test_other_class_count_is_refused():
    models = _models(RETINANET_R18, RETINANET_R101,
                     {'model.bbox_head.num_classes': 20})
    with pytest.raises(ValueError, match=r'model\.peers\.teacher: predicts '
                       r'20 classes, the student 80'):
        check_det_peers(models, 'student', logit_terms=False)


def test_prediction_dependent_assigner_is_refused_for_target_terms():
    models = _models(RETINANET_R18, TOOD)
    with pytest.raises(ValueError, match=r"model\.peers\.teacher: "
                       r"train_cfg\.assigner\.type is 'TaskAlignedAssigner'"):
        check_det_peers(models, 'student', logit_terms=False,
                        target_terms=True)
    check_det_peers(models, 'student', logit_terms=False)
    check_det_peers(_models(FASTER, FASTER), 'student', logit_terms=True,
                    target_terms=True)


def test_query_based_detector_is_refused():
    with pytest.raises(ValueError, match=r'model\.peers\.teacher: DETR is a '
                       'query-based detector'):
        check_det_peers(_models(RETINANET_R18, DETR), 'student',
                        logit_terms=False)


def test_dml_refuses_before_building():
    cfg = tiny_dml_model_cfg()
    cfg.peers.teacher.cfg_path = GFL_R50
    with pytest.raises(ValueError, match=r'model\.peers\.teacher: its prior '
                       'layout'):
        MODELS.build(cfg)


def test_non_detectors_are_not_checked():
    check_det_peer_configs(
        dict(student=dict(type='mmpretrain.ImageClassifier'),
             teacher=dict(type='mmpretrain.ImageClassifier')), 'student',
        None, logit_terms=True)
