"""``model.num_classes`` on detectors: one field sets the class count of
every detector's class-predicting heads (not the RPN's single object
class); peers that predict different counts are refused, naming the
peer."""
import pytest

from mmokd.models.builders import load_model_config
from mmokd.models.builders.num_classes import with_num_classes
from mmokd.registry import MODELS
from tests.test_det.det_helpers import TINY_DETECTORS, tiny_dml_model_cfg

FASTER = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
CASCADE_MASK = 'mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py'


def test_single_stage_bbox_head():
    retinanet = load_model_config(TINY_DETECTORS['retinanet'][0]).model
    out = with_num_classes(retinanet, 3, 'model.peers.student')
    assert out['bbox_head']['num_classes'] == 3
    assert retinanet['bbox_head']['num_classes'] == 80  # a copy


def test_two_stage_roi_heads_but_not_the_rpn():
    faster = load_model_config(FASTER, num_classes=3).model
    assert faster.roi_head.bbox_head.num_classes == 3
    assert 'num_classes' not in faster.rpn_head  # one class: object
    cascade = with_num_classes(
        load_model_config(CASCADE_MASK).model, 5, 'f')
    assert [h['num_classes'] for h in cascade['roi_head']['bbox_head']
            ] == [5, 5, 5]
    assert cascade['roi_head']['mask_head']['num_classes'] == 5


@pytest.mark.parametrize('path,family', [
    ('configs/dml/retinanet_r101_r18_coco.py', 'retinanet'),
    ('configs/dml/faster-rcnn_r101_r50_coco.py', 'faster-rcnn'),
])
def test_one_field_sets_every_detector(path, family):
    cfg = tiny_dml_model_cfg(path, family, num_classes=3)
    cfg.pop('distiller', None)  # the RoI terms: not needed here
    model = MODELS.build(cfg)
    assert model.class_counts() == dict(student=3, teacher=3)


def test_different_class_counts_are_refused_naming_the_peer():
    cfg = tiny_dml_model_cfg()
    cfg.peers.teacher.cfg_options['model.bbox_head.num_classes'] = 20
    with pytest.raises(ValueError, match=r'model\.peers\.teacher: predicts '
                       r'20 classes, the student 80; set model\.num_classes'):
        MODELS.build(cfg)
