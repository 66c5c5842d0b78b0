"""Multi-branch convolutions and their merge (CBR, GPD Sec. 3.3).

The block equals its merged convolution, computed
here branch by branch; the ``'pretrained'`` block equals the original
convolution; expanded with the student, the branches merge away at export.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmokd.models.gpd import (GPDMultiBranchConv2d, MultiBranchConv2d,
                              expand_to_dynamic_teacher, export_student,
                              gpd_mode)
from mmokd.models.gpd.multi_branch_conv import (is_branch_eligible,
                                                merge_backward)
from tests.test_models.test_gpd.gpd_models import (GPD_ARGS, build, images,
                                                   logits)


def _branch_by_branch(block, x):
    """Sum of the three scaled branch outputs, each run separately."""
    groups, scale = block.groups, block.branch_scale.view(3, 1, -1, 1, 1)
    out = scale[0] * F.conv2d(x, block.weight, None, 1, 1, 1, groups)
    out = out + scale[1] * F.conv2d(x, block.weight_1x1, None, 1, 0, 1, groups)
    avg = F.avg_pool2d(
        F.conv2d(x, block.weight_avg, None, 1, 0, 1, groups),
        3,
        1,
        1,
        count_include_pad=True)
    out = out + scale[2] * avg
    if block.bias is not None:
        out = out + block.bias.view(1, -1, 1, 1)
    return out


@pytest.mark.parametrize('groups,bias', [(1, False), (8, True), (2, False)])
def test_merge_is_exact(groups, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(
        8, 8 if groups == 8 else 6, 3, 1, 1, groups=groups, bias=bias)
    block = MultiBranchConv2d(conv, 'scratch')
    with torch.no_grad():
        block.branch_scale.uniform_(-1, 1)
    x = torch.randn(2, 8, 7, 7)
    with torch.no_grad():
        expected = _branch_by_branch(block, x)
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-6)
        merged = block.to_conv()
        assert torch.equal(merged(x), block(x))
    assert type(merged) is nn.Conv2d


@pytest.mark.parametrize('groups,out_c', [(1, 6), (1, 8), (8, 8), (2, 6)])
def test_merge_gradients_equal_the_branches(groups, out_c):
    """The hand-written merge backward (also in place, as the step cache
    runs it) against autograd through the three branch convolutions."""
    torch.manual_seed(0)
    block = MultiBranchConv2d(
        nn.Conv2d(8, out_c, 3, 1, 1, groups=groups, bias=False), 'scratch')
    with torch.no_grad():
        block.branch_scale.uniform_(-1, 1)
    x, params = torch.randn(2, 8, 7, 7), list(block.parameters())
    out_grad = torch.randn(2, out_c, 7, 7)
    expected = torch.autograd.grad(_branch_by_branch(block, x), params,
                                   out_grad)
    kernel = block.merged_kernel()
    merged = torch.autograd.grad(
        F.conv2d(x, kernel, None, 1, 1, 1, groups), params, out_grad)
    kernel_grad = torch.autograd.grad(
        F.conv2d(x, kernel, None, 1, 1, 1, groups), kernel, out_grad)[0]
    in_place = merge_backward(kernel_grad.clone(), *params, in_place=True)
    for name, want, got, got_in_place in zip(
            ('weight', 'weight_1x1', 'weight_avg', 'branch_scale'), expected,
            merged, in_place):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5,
                                   msg=name)
        torch.testing.assert_close(got_in_place, got, rtol=0, atol=0,
                                   msg=name)


def test_pretrained_init_is_the_original_conv():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1)
    block = MultiBranchConv2d(conv, 'pretrained')
    x = torch.randn(1, 4, 5, 5)
    with torch.no_grad():
        assert torch.equal(block(x), conv(x))
    assert block.branch_scale.tolist() == [[1.0] * 6, [0.0] * 6, [0.0] * 6]


def test_eligibility():
    assert is_branch_eligible(nn.Conv2d(4, 4, 3, padding=1))
    assert is_branch_eligible(nn.Conv2d(4, 4, 3, padding=1, groups=4))
    assert not is_branch_eligible(nn.Conv2d(4, 4, 3, 2, padding=1))
    assert not is_branch_eligible(nn.Conv2d(4, 4, 3, padding=2, dilation=2))
    assert not is_branch_eligible(nn.Conv2d(4, 4, 1))


def _branch_params(model):
    """Extra parameters of the blocks: two 1x1 kernels and 3 scales."""
    return sum(2 * m.weight.shape[0] * m.weight.shape[1] +
               3 * m.weight.shape[0] for m in model.modules()
               if is_branch_eligible(m))


@pytest.mark.parametrize('name,branches,converted', [
    ('resnet18', 'pretrained', 13),
    ('mobilenet_v1', 'scratch', 9),
])
def test_expanded_branches_merge_at_export(name, branches, converted):
    plain = build(name)
    model = build(name)
    extra = _branch_params(plain)
    expand_to_dynamic_teacher(
        model,
        noise_std=0,
        branches=branches,
        example_input=images(),
        **GPD_ARGS[name])
    blocks = [
        m for m in model.modules() if isinstance(m, GPDMultiBranchConv2d)
    ]
    assert len(blocks) == converted
    block = blocks[-1]
    assert block.branch_scale.shape == (3, 2 * block.out_channels)
    assert block.weight_1x1.shape[0] == 2 * block.out_channels
    x = images(seed=5)
    student = logits(model, x)
    with gpd_mode(model, 'dynamic_teacher'):
        teacher = logits(model, x)
    scale = student.abs().max()
    assert (teacher - student).abs().max() < 1e-5 * scale
    if branches == 'pretrained':
        assert torch.equal(student, logits(plain, x))
    with gpd_mode(model, 'student'):
        n_training = sum(
            m.view(m.weight_1x1).numel() + m.view(m.weight_avg).numel() +
            3 * m.out_channels for m in blocks)
    assert n_training == extra
    plain.load_state_dict(export_student(model), strict=True)
    torch.testing.assert_close(
        logits(plain, x), student, rtol=1e-5, atol=1e-5 * scale)
