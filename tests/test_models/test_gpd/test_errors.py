"""Clear errors for bad GPD arguments and unsupported structures.

Each error names the config field (``model.gpd.<arg>``) to fix (project
rule; GPD, Guo et al., ICLR 2025, supports integer ratios and channel
topologies without concat / split / shuffle inside the widened scope).
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmokd.models.gpd import (expand_to_dynamic_teacher, export_student,
                              set_gpd_mode)


class ToyNet(nn.Module):
    """conv -> BN -> ReLU -> channel op -> conv -> pool -> fc."""

    def __init__(self, channel_op=None, act=F.relu):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.body = nn.Conv2d(
            16 if channel_op == 'cat' else 8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 5)
        self.channel_op = channel_op
        self.act = act

    def forward(self, x):
        x = self.act(self.bn(self.stem(x)))
        if self.channel_op == 'cat':
            x = torch.cat([x, x], 1)
        elif self.channel_op == 'split':
            x = torch.cat(x.chunk(2, 1)[::-1], 1)
        elif self.channel_op == 'shuffle':
            n, c, h, w = x.shape
            x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        x = self.body(x)
        return self.fc(x.mean((2, 3)))


def expand(model, **kwargs):
    args = dict(
        output_boundary=('fc', ), example_input=torch.randn(2, 3, 8, 8))
    args.update(kwargs)
    return expand_to_dynamic_teacher(model, **args)


def test_toy_net_expands_exactly():
    """The toy net itself is supported (so the errors below are due to
    the structure under test)."""
    model = ToyNet().eval()
    x = torch.randn(2, 3, 8, 8)
    reference = model(x)
    expand(model, noise_std=0)
    assert torch.equal(model(x), reference)
    set_gpd_mode(model, 'dynamic_teacher')
    torch.testing.assert_close(model(x), reference)
    assert model.stem.weight.shape == (16, 3, 3, 3)


@pytest.mark.parametrize('op,message', [
    ('cat', 'concatenation'),
    ('split', 'changes the channel count'),
    ('shuffle', 'changes the channel count'),
])
def test_channel_ops_inside_scope(op, message):
    with pytest.raises(ValueError, match=message) as error:
        expand(ToyNet(op))
    assert 'model.gpd.scope' in str(error.value)


def test_channel_ops_outside_scope_are_fine():
    """With the cat outside the scope, 'body' reads a column map."""
    model = ToyNet('cat').eval()
    x = torch.randn(2, 3, 8, 8)
    reference = model(x)
    expand(model, scope=('stem', 'bn'), output_boundary=(), noise_std=0)
    assert model.body.in_layout == ((8, True), (8, True))
    set_gpd_mode(model, 'dynamic_teacher')
    torch.testing.assert_close(model(x), reference)


@pytest.mark.parametrize('ratio', [1.5, 1, True, '2'])
def test_bad_ratio(ratio):
    with pytest.raises(ValueError, match=r'model\.gpd\.ratio'):
        expand(ToyNet(), ratio=ratio)


@pytest.mark.parametrize('field,value', [
    ('input_boundary', ('stem_conv', )),
    ('output_boundary', ('head.fc', )),
    ('output_boundary', ('bn', )),
    ('scope', 'backbone'),
])
def test_bad_names(field, value):
    with pytest.raises(ValueError, match=rf'model\.gpd\.{field}'):
        expand(ToyNet(), **{field: value})


def test_boundary_outside_scope():
    with pytest.raises(ValueError, match=r'outside model\.gpd\.scope'):
        expand(ToyNet(), scope='stem', output_boundary=('fc', ))


def test_missing_output_boundary():
    with pytest.raises(ValueError, match=r'model\.gpd\.output_boundary'):
        expand(ToyNet(), output_boundary=())


def test_input_boundary_must_read_the_image():
    with pytest.raises(ValueError, match=r'model\.gpd\.input_boundary'):
        expand(ToyNet(), input_boundary=('body', ))


def test_functional_non_homogeneous_activation_fails_self_check():
    """F.relu6 cannot be wrapped; the IR self-check catches it."""
    model = ToyNet(act=lambda x: F.relu6(x * 20))
    with pytest.raises(ValueError, match='self-check failed'):
        expand(model)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match=r'model\.gpd\.branches'):
        expand(ToyNet(), branches='orepa')
    with pytest.raises(ValueError, match=r'model\.gpd\.noise_std'):
        expand(ToyNet(), noise_std=-1.0)
    model = expand(ToyNet())
    with pytest.raises(ValueError, match='already expanded'):
        expand(model)
    with pytest.raises(ValueError, match='dynamic_teacher'):
        set_gpd_mode(model, 'teacher')
    with pytest.raises(ValueError, match='not expanded'):
        export_student(ToyNet())


def test_structure_errors_leave_the_model_unchanged():
    model = ToyNet('cat')
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='concatenation'):
        expand(model, branches='pretrained')
    assert type(model.body) is nn.Conv2d and type(model.stem) is nn.Conv2d
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
