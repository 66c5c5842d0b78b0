"""SwitOKD with three networks: 1T2S and 2T1S (SwitOKD Table 7, W9)."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmokd.registry import MODELS
from tests.test_models.test_algorithms.test_switokd import (label_zero_batch,
                                                            optims)
from tests.toy_models import batch, tiny_classifier

ONE_T_TWO_S = [
    dict(teacher='teacher', student='student'),
    dict(teacher='teacher', student='assistant')
]
TWO_T_ONE_S = [
    dict(teacher='assistant', student='student'),
    dict(teacher='teacher', student='student')
]


def build(pairs, **kwargs):
    torch.manual_seed(0)
    cfg = dict(
        type='mmokd.SwitOKD',
        peers=dict(
            student=tiny_classifier(),
            assistant=tiny_classifier(width=12),
            teacher=tiny_classifier(width=16)),
        logits='head.fc',
        dml_loss=dict(type='mmokd.DMLLoss', peer_reduction='sum'),
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor', num_classes=10),
        pairs=pairs,
        **kwargs)
    return MODELS.build(cfg)


def set_logits(model, biases):
    """Constant logits per peer: zero fc weights, the given biases."""
    with torch.no_grad():
        for name, bias in biases.items():
            fc = model.peer(name).head.fc
            fc.weight.zero_()
            fc.bias.zero_()
            fc.bias[:2] = torch.tensor(bias)


EXPERT_S = [0.0, 12.0]  # confidently wrong on label 0
LEARNING_S = [6.0, -6.0]  # as good as the teacher: learning mode
GOOD_T = [4.0, -8.0]


def weights_of(model, name):
    return {
        k: v.clone()
        for k, v in model.peer(name).state_dict().items()
        if 'running' not in k and 'num_batches' not in k
    }


def unchanged(before, model, name):
    after = model.peer(name).state_dict()
    return all(torch.equal(v, after[k]) for k, v in before.items())


@pytest.mark.parametrize('strict', [False, True])
def test_1t2s_both_pairs_expert_pause_depends_on_strict_pause(strict):
    model = build(ONE_T_TWO_S, strict_pause=strict)
    optim = optims(model)
    model.train_step(batch(), optim)  # momentum state exists
    set_logits(model,
               dict(student=EXPERT_S, assistant=EXPERT_S, teacher=GOOD_T))
    before = weights_of(model, 'teacher')
    logs = model.train_step(label_zero_batch(), optim)
    assert logs['switokd.expert.teacher_student'].item() == 1.0
    assert logs['switokd.expert.teacher_assistant'].item() == 1.0
    # Code-faithful (W9): the teacher's loss is exactly 0 but momentum and
    # weight decay still move it; strict_pause leaves it untouched.
    assert (logs['teacher.loss'].item() == 0.0) != strict
    assert unchanged(before, model, 'teacher') == strict


def test_1t2s_one_pair_expert_drops_only_that_students_term():
    model = build(ONE_T_TWO_S)
    optim = optims(model)
    set_logits(model,
               dict(student=EXPERT_S, assistant=LEARNING_S, teacher=GOOD_T))
    before = weights_of(model, 'teacher')
    logs = model.train_step(label_zero_batch(), optim)
    assert logs['switokd.expert.teacher_student'].item() == 1.0
    assert logs['switokd.expert.teacher_assistant'].item() == 0.0
    assert logs['teacher.loss_dml_student'].item() == 0.0
    # L_T = CE + KL(p_assistant || p_T) with constant logits.
    z_t, z_a = torch.tensor([GOOD_T + [0.0] * 8
                             ]), torch.tensor([LEARNING_S + [0.0] * 8])
    kl = F.kl_div(
        z_t.log_softmax(1),
        z_a.log_softmax(1),
        log_target=True,
        reduction='batchmean')
    ce = F.cross_entropy(z_t, torch.tensor([0]))
    assert logs['teacher.loss'].item() == pytest.approx(
        (ce + kl).item(), rel=1e-5)
    assert not unchanged(before, model, 'teacher')


def test_2t1s_expert_teacher_pauses_other_learns_student_learns_from_both():
    model = build(TWO_T_ONE_S)
    optim = optims(model)
    model.train_step(batch(), optim)
    # Student wrong: the good assistant (pair 1) is expert; the teacher is
    # as wrong as the student (t >= s), so pair 2 stays in learning mode.
    set_logits(model,
               dict(student=EXPERT_S, assistant=GOOD_T, teacher=EXPERT_S))
    assistant = weights_of(model, 'assistant')
    teacher = weights_of(model, 'teacher')
    opt_state = copy.deepcopy(optim['assistant'].state_dict())
    logs = model.train_step(label_zero_batch(), optim)
    assert logs['switokd.expert.assistant_student'].item() == 1.0
    assert logs['switokd.expert.teacher_student'].item() == 0.0
    assert unchanged(assistant, model, 'assistant')
    for key, value in opt_state['state'].items():
        assert torch.equal(
            value['momentum_buffer'],
            optim['assistant'].state_dict()['state'][key]['momentum_buffer'])
    assert not unchanged(teacher, model, 'teacher')
    z = {
        n: torch.tensor([b + [0.0] * 8])
        for n, b in (('s', EXPERT_S), ('a', GOOD_T), ('t', EXPERT_S))
    }

    def kl(target, learner):
        return F.kl_div(
            z[learner].log_softmax(1),
            z[target].log_softmax(1),
            log_target=True,
            reduction='batchmean')

    expected = F.cross_entropy(z['s'], torch.tensor([0])) + kl('a', 's') + \
        kl('t', 's')
    assert logs['student.loss'].item() == pytest.approx(
        expected.item(), rel=1e-5)


def test_first_pair_epsilon_is_reused_like_the_authors_code():
    model = build(ONE_T_TWO_S, epsilon_source='first_pair')
    set_logits(model,
               dict(student=EXPERT_S, assistant=LEARNING_S, teacher=GOOD_T))
    logs = model.train_step(label_zero_batch(), optims(model))

    def l1(a, b):
        return float((a - b).abs().sum())

    y = torch.zeros(10)
    y[0] = 1
    p = {
        n: torch.tensor(b + [0.0] * 8).softmax(0)
        for n, b in (('s', EXPERT_S), ('a', LEARNING_S), ('t', GOOD_T))
    }
    s1, t = l1(p['s'], y), l1(p['t'], y)
    s2 = l1(p['a'], y)
    eps_first = torch.tensor(-t / (s1 + t)).exp().item()
    assert logs['switokd.delta.teacher_assistant'].item() == pytest.approx(
        s2 - eps_first * t, rel=1e-5)
    own = build(ONE_T_TWO_S)
    set_logits(own,
               dict(student=EXPERT_S, assistant=LEARNING_S, teacher=GOOD_T))
    logs_own = own.train_step(label_zero_batch(), optims(own))
    eps_own = torch.tensor(-t / (s2 + t)).exp().item()
    assert logs_own['switokd.delta.teacher_assistant'].item() == \
        pytest.approx(s2 - eps_own * t, rel=1e-5)
    assert eps_own != pytest.approx(eps_first)
