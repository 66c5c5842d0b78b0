"""The DT's weight-bound convolutions as one GEMM (GPD Sec. 3.2): the same
function as ``F.conv2d``, forward and every gradient, and taken only by the
DT's dense convolutions with few output positions."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmokd.models.gpd import GPDConv2d, gpd_mode
from mmokd.models.gpd import conv as conv_module
from mmokd.models.gpd.gemm_conv import (GEMM_MAX_POSITIONS, gemm_conv2d,
                                        use_gemm)
from mmokd.models.gpd.layout import widened


def _grads(conv, x, weight, bias, grad_out, *args):
    """Output and gradients of ``conv`` w.r.t. input, weight and bias."""
    leaves = [t.detach().requires_grad_() for t in (x, weight, bias)]
    out = conv(*leaves, *args)
    out.backward(grad_out)
    return [out.detach()] + [leaf.grad for leaf in leaves]


@pytest.mark.parametrize(
    'kernel,stride,padding,dilation,size',
    [(3, (1, 1), (1, 1), (1, 1), (4, 4)), (3, (2, 2), (1, 1), (1, 1),
                                           (5, 4)),
     (1, (2, 2), (0, 0), (1, 1), (4, 4)), (1, (1, 1), (0, 0), (1, 1), (3, 2)),
     (3, (1, 2), (2, 1), (2, 1), (6, 5))])
def test_equals_conv2d_and_its_gradients(kernel, stride, padding, dilation,
                                         size):
    torch.manual_seed(0)
    x = torch.randn(3, 5, *size, dtype=torch.float64)
    weight = torch.randn(7, 5, kernel, kernel, dtype=torch.float64)
    bias = torch.randn(7, dtype=torch.float64)
    args = (stride, padding, dilation)
    ref_out = F.conv2d(x, weight, bias, *args)
    grad_out = torch.randn_like(ref_out)
    expected = _grads(F.conv2d, x, weight, bias, grad_out, *args)
    actual = _grads(gemm_conv2d, x, weight, bias, grad_out, *args)
    assert actual[0].is_contiguous()
    for name, got, want in zip(('out', 'x', 'weight', 'bias'), actual,
                               expected):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12,
                                   msg=name)


def test_used_for_few_output_positions_on_the_cpu():
    args = ((3, 3), (1, 1), (1, 1), (1, 1))
    assert GEMM_MAX_POSITIONS == 64
    assert use_gemm(torch.empty(4, 2, 4, 4), *args)  # 4 x 16 = 64
    assert not use_gemm(torch.empty(4, 2, 4, 5), *args)  # 80
    assert use_gemm(
        torch.empty(1, 2, 16, 16), (3, 3), (2, 2), (1, 1), (1, 1))  # 8 x 8
    assert not use_gemm(
        torch.empty(1, 2, 4, 4), (3, 3), (1, 1), 'same', (1, 1))
    assert not use_gemm(torch.empty(4, 2, 4, 4, device='meta'), *args)


def _dt_conv():
    """A widened 3x3 conv (4 -> 6 student channels, ratio 2)."""
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=True)
    op = GPDConv2d(conv, 2, widened(4), True)
    with torch.no_grad():
        op.weight.add_(torch.randn_like(op.weight), alpha=0.1)
    return op


@pytest.mark.parametrize('size,gemm', [(4, True), (9, False)])
def test_only_the_dts_weight_bound_convs_use_it(size, gemm, monkeypatch):
    """The DT's conv equals ``F.conv2d`` of the store on either path; the
    GEMM is taken at <= 64 output positions and never by the student."""
    calls = []

    def counted(*args):
        calls.append(args[0].shape)
        return gemm_conv2d(*args)

    monkeypatch.setattr(conv_module, 'gemm_conv2d', counted)
    op = _dt_conv()
    x = torch.randn(2, 8, size, size)
    with gpd_mode(op, 'dynamic_teacher'):
        out = op(x)
    torch.testing.assert_close(
        out, F.conv2d(x, op.weight, op.bias, 1, 1), rtol=1e-5, atol=1e-5)
    assert len(calls) == int(gemm)
    op(x[:, :4])  # the student: oneDNN as the plain student
    assert len(calls) == int(gemm)
