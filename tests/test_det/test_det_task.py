"""DetTask reads mmdet detectors; DenseHeadRecorder records what a dense
head's loss reads, with each image's padding mask."""
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from mmokd.models.distillers import DenseHeadRecorder
from mmokd.models.tasks import ClsTask, DetTask, task_of
from mmokd.models.tasks.det_task import DenseHeadRecord
from mmokd.registry import MODELS
from tests.test_det.det_helpers import RETINANET_R18, TINY_RETINANET


@pytest.fixture(scope='module')
def retinanet():
    return MODELS.build(
        dict(type='mmokd.ExternalModel', cfg_path=RETINANET_R18,
             cfg_options=TINY_RETINANET))


def test_task_is_read_from_a_detector(retinanet):
    assert DetTask.fits(retinanet) and not ClsTask.fits(retinanet)
    task = task_of(retinanet)
    assert isinstance(task, DetTask)
    assert task.num_classes(retinanet) == 80
    assert task.ignored_label(255) is None


def test_num_classes_of_a_two_stage_detector():
    faster = MODELS.build(
        dict(type='mmokd.ExternalModel',
             cfg_path='mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
             cfg_options={
                 'model.backbone.depth': 18,
                 'model.backbone.init_cfg': None,
                 'model.neck.in_channels': [64, 128, 256, 512],
                 'model.roi_head.bbox_head.num_classes': 7
             }))
    assert DetTask().num_classes(faster) == 7


def test_labels_are_every_instance_label():
    samples = []
    for labels in ([3, 5], [], [1]):
        sample = DetDataSample()
        sample.gt_instances = InstanceData(
            labels=torch.tensor(labels, dtype=torch.long),
            bboxes=torch.zeros(len(labels), 4))
        samples.append(sample)
    assert DetTask().labels(samples).tolist() == [3, 5, 1]
    with pytest.raises(KeyError, match='gt_instances'):
        DetTask().labels([DetDataSample()])


def test_a_tensor_is_not_a_detection_record():
    task = DetTask()
    with pytest.raises(ValueError, match=r"teacher\.logits.*mmokd\.DenseHead"):
        task.check_logits(torch.zeros(2, 720, 4, 5), 'teacher.logits')


def _samples(pad_shapes, batch_shape):
    samples = []
    for shape in pad_shapes:
        sample = DetDataSample(
            metainfo=dict(pad_shape=shape, img_shape=shape,
                          batch_input_shape=batch_shape))
        sample.gt_instances = InstanceData(
            labels=torch.tensor([0]),
            bboxes=torch.tensor([[4.0, 4.0, 40.0, 40.0]]))
        samples.append(sample)
    return samples


def test_recorder_records_every_level_and_each_images_padding(retinanet):
    recorder = DenseHeadRecorder('bbox_head')
    recorder.initialize(retinanet)
    inputs = torch.randn(2, 3, 128, 160)
    samples = _samples([(128, 160), (64, 96)], (128, 160))
    with recorder:
        losses = retinanet(inputs, samples, mode='loss')
    assert len(recorder.data_buffer) == 1
    record = recorder.get_record_data()
    assert isinstance(record, DenseHeadRecord)
    assert record.num_logits == 80 and record.activation == 'sigmoid'
    sizes = [tuple(score.shape[-2:]) for score in record.cls_scores]
    assert sizes == [(16, 20), (8, 10), (4, 5), (2, 3), (1, 2)]
    assert record.cls_scores[0].shape == (2, 9 * 80, 16, 20)
    # Image 0 fills the batch; image 1 sees 8 x 12 of the 16 x 20 stride-8
    # positions, 9 anchors each.
    assert record.valid[0][0].all()
    assert record.valid[0][1].sum() == 8 * 12 * 9
    # The recorded maps are those the head's loss read (same graph).
    feats = retinanet.extract_feat(inputs)
    direct = retinanet.bbox_head(feats)[0]
    for recorded, again in zip(record.cls_scores, direct):
        torch.testing.assert_close(recorded, again)
    assert record.cls_scores[0].grad_fn is not None
    assert torch.isfinite(sum(losses['loss_cls']))
    # Outside the recording context nothing is kept.
    retinanet(inputs, samples, mode='loss')
    assert len(recorder.data_buffer) == 1


def test_recorder_refuses_a_module_that_is_no_dense_head(retinanet):
    with pytest.raises(ValueError, match='DenseHead.source.*neck'):
        DenseHeadRecorder('neck').initialize(retinanet)
