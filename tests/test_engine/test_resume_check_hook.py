"""ResumeCheckHook: resuming a checkpoint of another pair fails before
anything is loaded, with a short message naming the networks and the
first differing keys; load_from is left to mmengine."""
from types import SimpleNamespace

import pytest

from mmokd.engine.hooks import ResumeCheckHook
from mmokd.registry import MODELS
from tests.toy_models import dml_config, tiny_classifier


def algorithm(teacher_width):
    return MODELS.build(
        dml_config(
            peers=dict(
                student=tiny_classifier(),
                teacher=tiny_classifier(width=teacher_width))))


def test_another_pair_is_refused_naming_peers_and_keys():
    saved = dict(state_dict=algorithm(teacher_width=16).state_dict())
    runner = SimpleNamespace(_resume=True, model=algorithm(teacher_width=8))
    with pytest.raises(RuntimeError) as error:
        ResumeCheckHook(max_keys=3).after_load_checkpoint(runner, saved)
    message = str(error.value)
    assert 'Networks in the checkpoint: student, teacher; in this model: ' \
        'student, teacher.' in message
    assert 'teacher.backbone.conv1.weight: checkpoint [16, 3, 3, 3], ' \
        'model [8, 3, 3, 3]' in message
    assert 'student.' not in message.split('first:')[1]
    assert '... and ' in message and len(message.splitlines()) == 8


def test_missing_and_unexpected_keys_are_named():
    state = algorithm(teacher_width=16).state_dict()
    state['extra.weight'] = state.pop('student.head.fc.bias')
    runner = SimpleNamespace(_resume=True, model=algorithm(teacher_width=16))
    with pytest.raises(RuntimeError) as error:
        ResumeCheckHook().after_load_checkpoint(runner, dict(state_dict=state))
    assert 'student.head.fc.bias: not in the checkpoint' in str(error.value)
    assert 'extra.weight: not in the model' in str(error.value)
    assert 'in the checkpoint: student, teacher, extra' in str(error.value)


def test_the_same_pair_and_load_from_pass():
    model = algorithm(teacher_width=16)
    hook = ResumeCheckHook()
    hook.after_load_checkpoint(
        SimpleNamespace(_resume=True, model=model),
        dict(state_dict=algorithm(teacher_width=16).state_dict()))
    hook.after_load_checkpoint(
        SimpleNamespace(_resume=False, model=model),
        dict(state_dict=algorithm(teacher_width=8).state_dict()))


def test_optimizers_of_other_modules_are_refused():
    """A checkpoint whose optimizers are not the model's
    ``optimized_names`` (e.g. one without MC-Distil's ``cnet``)."""
    import torch
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    model = algorithm(teacher_width=16)
    wrappers = OptimWrapperDict(
        **{
            name: OptimWrapper(torch.optim.SGD(model.peer(name).parameters(),
                                               lr=0.1))
            for name in model.optimized_names
        })
    saved = dict(
        state_dict=model.state_dict(),
        optimizer=dict(student=wrappers['student'].state_dict()))
    runner = SimpleNamespace(_resume=True, model=model,
                             optim_wrapper=wrappers)
    with pytest.raises(RuntimeError, match=r"optimizers: checkpoint "
                       r"\['student'\], model \['student', 'teacher'\]"):
        ResumeCheckHook().after_load_checkpoint(runner, saved)
    saved['optimizer'] = wrappers.state_dict()
    ResumeCheckHook().after_load_checkpoint(runner, saved)
