"""The val and test loops evaluate the chosen peers in turn, the student
first and unprefixed, with each stage's hooks around them."""
import pytest
import torch

from mmokd.engine.runner import OnlineDistillTestLoop, OnlineDistillValLoop
from tests.test_engine.engine_stubs import (StubRunner, accuracy_evaluator,
                                            batches, dml_model)


def top1(model, peer, data) -> float:
    """Top-1 accuracy of one peer, computed by hand."""
    correct = total = 0
    with torch.no_grad():
        for data_batch in data:
            processed = model.data_preprocessor(data_batch, False)
            logits = model.peer(peer)(processed['inputs'], mode='tensor')
            labels = torch.cat(
                [s.gt_label for s in data_batch['data_samples']])
            correct += int((logits.argmax(1) == labels).sum())
            total += len(labels)
    return 100.0 * correct / total


def test_val_loop_evaluates_every_peer_student_first():
    model, data = dml_model(), batches()
    runner = StubRunner(model)
    loop = OnlineDistillValLoop(runner, data, accuracy_evaluator())
    metrics = loop.run()
    assert list(metrics) == ['accuracy/top1', 'teacher.accuracy/top1']
    model.eval()
    assert metrics['accuracy/top1'] == pytest.approx(
        top1(model, 'student', data))
    assert metrics['teacher.accuracy/top1'] == pytest.approx(
        top1(model, 'teacher', data))
    names = [name for name, _ in runner.calls]
    assert names[:2] == ['before_val', 'before_val_epoch']
    assert names[-2:] == ['after_val_epoch', 'after_val']
    assert names.count('before_val_iter') == 2 * len(data)  # two peers
    assert runner.calls[-2][1]['metrics'] == metrics
    assert model.eval_peer == 'student'  # restored after each peer


def test_test_loop_defaults_to_the_student():
    model, data = dml_model(), batches(1)
    runner = StubRunner(model)
    metrics = OnlineDistillTestLoop(runner, data, accuracy_evaluator()).run()
    assert list(metrics) == ['accuracy/top1']
    names = [name for name, _ in runner.calls]
    assert names[:2] == ['before_test', 'before_test_epoch']
    assert names[-2:] == ['after_test_epoch', 'after_test']


def test_test_loop_of_one_other_peer_prefixes_it():
    model, data = dml_model(), batches(1)
    loop = OnlineDistillTestLoop(
        StubRunner(model), data, accuracy_evaluator(), test_peers='teacher')
    assert list(loop.run()) == ['teacher.accuracy/top1']


def test_unknown_peer_names_the_field():
    model, data = dml_model(), batches(1)
    loop = OnlineDistillValLoop(
        StubRunner(model), data, accuracy_evaluator(),
        eval_peers=['student', 'techer'])
    with pytest.raises(ValueError, match=r"val_cfg.eval_peers: unknown "
                       r"peers \['techer'\]"):
        loop.run()
