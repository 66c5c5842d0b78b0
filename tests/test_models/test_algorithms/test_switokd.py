"""SwitOKD's conditional teacher update on real classifiers (W1-W3, W7)."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmpretrain.structures import DataSample

from mmokd.registry import MODELS
from tests.toy_models import batch, dml_config


def build():
    torch.manual_seed(0)
    cfg = dml_config()
    cfg['type'] = 'mmokd.SwitOKD'
    return MODELS.build(cfg)


def optims(model):
    return OptimWrapperDict(
        **{
            n:
            OptimWrapper(
                torch.optim.SGD(
                    model.peer(n).parameters(),
                    lr=0.1,
                    momentum=0.9,
                    weight_decay=1e-4))
            for n in model.peer_names
        })


def label_zero_batch():
    data = batch()
    data['data_samples'] = [DataSample().set_gt_label(0) for _ in range(4)]
    return data


def force_expert(model):
    """Student confidently wrong (class 1), teacher ~0.9 on the label."""
    with torch.no_grad():
        for peer, bias in ((model.student, [0.0, 12.0]), (model.teacher,
                                                          [4.0, -8.0])):
            peer.head.fc.weight.zero_()
            peer.head.fc.bias.fill_(0.0)
            peer.head.fc.bias[:2] = torch.tensor(bias)


def snapshot(model, optim):
    return (copy.deepcopy(model.teacher.state_dict()),
            copy.deepcopy(optim['teacher'].state_dict()))


def test_expert_mode_leaves_teacher_and_its_optimizer_untouched():
    model = build()
    optim = optims(model)
    model.train_step(batch(), optim)  # creates momentum state
    force_expert(model)
    weights, opt_state = snapshot(model, optim)
    student_before = copy.deepcopy(model.student.state_dict())
    log_vars = model.train_step(label_zero_batch(), optim)
    assert log_vars['switokd.expert'].item() == 1.0
    after = model.teacher.state_dict()
    for key, value in weights.items():
        if 'running' in key or 'num_batches' in key:
            continue
        assert torch.equal(value, after[key]), key
    # BN statistics still move in the forward (authors' code, W3).
    assert any(not torch.equal(weights[k], after[k]) for k in weights
               if 'running_mean' in k)
    assert all(p.grad is None for p in model.teacher.parameters())
    state = optim['teacher'].state_dict()['state']
    for key, value in opt_state['state'].items():
        assert torch.equal(value['momentum_buffer'],
                           state[key]['momentum_buffer'])
    assert any(not torch.equal(v,
                               model.student.state_dict()[k])
               for k, v in student_before.items() if k.endswith('weight'))


def test_learning_mode_is_dml():
    torch.manual_seed(0)
    cfg = dml_config()
    dml = MODELS.build(cfg)
    swit = build()
    swit.load_state_dict(dml.state_dict())
    logs_dml = dml.train_step(batch(), optims(dml))
    logs_swit = swit.train_step(batch(), optims(swit))
    assert logs_swit['switokd.expert'].item() == 0.0
    for dml_key, swit_key in (('student.loss_dml', 'student.loss_dml'),
                              ('teacher.loss_dml',
                               'teacher.loss_dml_student'), ('loss', 'loss')):
        assert logs_swit[swit_key].item() == pytest.approx(
            logs_dml[dml_key].item())
    for key, value in dml.state_dict().items():
        assert torch.allclose(value.float(),
                              swit.state_dict()[key].float()), key


def test_needs_two_peers_and_a_teacher():
    cfg = dml_config()
    cfg.update(type='mmokd.SwitOKD', teacher='nobody')
    with pytest.raises(ValueError, match='model.teacher'):
        MODELS.build(cfg)
    cfg.update(pairs=[dict(teacher='teacher', student='teacher')])
    with pytest.raises(ValueError, match=r'model.pairs\[0\]'):
        MODELS.build(cfg)
    cfg.update(
        pairs=[dict(teacher='teacher', student='student')],
        epsilon_source='code')
    with pytest.raises(ValueError, match='model.epsilon_source'):
        MODELS.build(cfg)
