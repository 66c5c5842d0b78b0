"""Extraction of the plain student (CBR; GPD Sec. 3.3).

The exported state dict has the original
keys, shapes and parameter count, loads with ``strict=True`` into the plain
model built from the same config and reproduces the student-mode outputs.
"""
import pytest
import torch
import torch.nn.functional as F

from mmokd.models.gpd import export_student, gpd_mode
from mmokd.models.gpd.trace import forward_all
from tests.test_models.test_gpd.gpd_models import build, expanded, images


def _train_step(model):
    """One SGD step on student + DT losses, so that weights leave IR."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    target = torch.tensor([1, 2, 3, 4])
    x = images(4, size=64)
    loss = F.cross_entropy(model(x, mode='tensor'), target)
    with gpd_mode(model, 'dynamic_teacher'):
        loss = loss + F.cross_entropy(model(x, mode='tensor'), target)
    loss.backward()
    optimizer.step()
    model.eval()


def _check_round_trip(name, model):
    with gpd_mode(model, 'dynamic_teacher'):  # export ignores the mode
        state = export_student(model)
    plain = build(name)
    reference = plain.state_dict()
    assert list(state) == list(reference)
    assert all(state[k].shape == v.shape for k, v in reference.items())
    plain.load_state_dict(state, strict=True)
    x = images(seed=7)
    with torch.no_grad(), gpd_mode(model, 'student'):
        exported = forward_all(plain, x)
        student = forward_all(model, x)
    assert all(torch.equal(a, b) for a, b in zip(exported, student))
    return plain


def test_trained_resnet18_round_trip():
    _, model = expanded('resnet18', noise_std=1e-6, copy_model=True)
    _train_step(model)
    plain = _check_round_trip('resnet18', model)
    assert sum(p.numel() for p in plain.parameters()) == 11_689_512
    bn = model.backbone.bn1
    assert torch.equal(plain.backbone.bn1.running_mean,
                       bn.student_running_mean)
    initial = build('resnet18').backbone.bn1.running_mean
    assert not torch.equal(bn.student_running_mean, initial)


@pytest.mark.parametrize('name', ['mobilenet_v2', 'pspnet_r18'])
def test_round_trip(name):
    _check_round_trip(name, expanded(name)[1])
