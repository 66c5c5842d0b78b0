"""Task adapters: declared or read from the student once, at build; the
logits each term gets are checked against them, naming the recorder."""
import pytest
import torch
from mmengine.structures import PixelData
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample

from mmokd.models.losses import dml_kl
from mmokd.models.tasks import ClsTask, SegTask, task_of
from mmokd.registry import MODELS
from tests.toy_models import batch, build_dml, dml_config, sgd_dict


def seg_samples(labels):
    """mmseg data samples carrying ``labels`` as their label maps."""
    samples = []
    for label in labels:
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None])
        samples.append(sample)
    return samples


def test_the_task_is_read_from_the_student_once():
    model = build_dml()
    assert isinstance(model.task, ClsTask)
    for loss in model.distiller.losses.values():
        assert all(term.task is model.task for term in loss.values())


def test_an_explicit_task_wins_and_is_built_from_the_registry():
    model = build_dml(task=dict(type='mmokd.ClsTask'))
    assert type(model.task) is ClsTask
    with pytest.raises(KeyError, match='NoSuchTask'):
        build_dml(task=dict(type='mmokd.NoSuchTask'))


def test_a_network_no_task_reads_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"model.task: no task reads a "
                       r"Linear .*dict\(type='mmokd.ClsTask'\)"):
        task_of(torch.nn.Linear(2, 2))


def test_labels_of_each_task():
    cls_samples = batch(num_images=3)['data_samples']
    expected = torch.cat([s.gt_label for s in cls_samples])
    assert torch.equal(ClsTask().labels(cls_samples), expected)
    maps = torch.randint(0, 4, (2, 5, 6))
    assert torch.equal(SegTask().labels(seg_samples(maps)), maps)
    with pytest.raises(KeyError, match='no gt_sem_seg'):
        SegTask().labels(cls_samples)
    with pytest.raises(KeyError, match='no gt_label'):
        ClsTask().labels([DataSample()])


def test_only_dense_labels_are_ever_left_out():
    assert ClsTask().ignored_label(255) is None
    assert SegTask().ignored_label(255) == 255


def test_classification_class_255_counts_in_a_dml_step():
    """ImageNet's class 255 is a label like any other: the step's DML term
    equals the KL over every sample."""
    model = build_dml(num_classes=300)
    data = batch(num_classes=300)
    for sample in data['data_samples']:
        sample.set_gt_label(255)
    data = model.data_preprocessor(data, True)
    losses = model.peer_losses(**data)
    z_s = model.record('student', 'logits')
    z_t = model.record('teacher', 'logits')
    assert torch.allclose(losses['student']['loss_dml'], dml_kl(z_s, z_t))


def test_feature_maps_recorded_as_logits_are_named_at_the_first_step():
    model = build_dml(logits='backbone.layer1')
    with pytest.raises(ValueError) as error:
        model.train_step(batch(), sgd_dict(model))
    message = str(error.value)
    assert 'model.distiller.recorders.student.logits' in message
    assert 'not (N, C)' in message and 'classification (ClsTask)' in message


def test_a_declared_task_that_does_not_fit_the_logits_is_named():
    model = MODELS.build(dml_config(task=dict(type='mmokd.SegTask')))
    with pytest.raises(ValueError, match=r'recorders.student.logits: .*not '
                       r'\(N, C, h, w\), but the task is segmentation'):
        model.train_step(batch(), sgd_dict(model))
