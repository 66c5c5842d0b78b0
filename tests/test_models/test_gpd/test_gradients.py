"""Gradient consequences of hard parameter sharing (GPD, Guo et al.,
ICLR 2025, Sec. 3.2).

Locality and scale on ResNet-18: the
student's loss reaches only its prefix slice, with ``r`` times the plain
student's gradient for dense convolutions (stem included) and the same
gradient for BN and the classifier; the DT's loss reaches the whole store.
"""
import torch
import torch.nn.functional as F

from mmokd.models.gpd import gpd_mode
from tests.test_models.test_gpd.gpd_models import build, expanded, images

#: (module, student rows, student columns, expected gradient ratio)
SLICES = {
    'backbone.conv1': (64, None, 2.0),
    'backbone.layer2.0.conv1': (128, 64, 2.0),
    'backbone.layer2.0.downsample.0': (128, 64, 2.0),
    'backbone.layer4.1.conv2': (512, 512, 2.0),
    'backbone.bn1': (64, None, 1.0),
    'backbone.layer3.0.bn2': (256, None, 1.0),
    'head.fc': (None, 512, 1.0),
}


def _loss(model, x):
    target = torch.tensor([3, 7])
    return F.cross_entropy(model(x, mode='tensor'), target)


def _student_slice(tensor, rows, cols):
    if rows is not None:
        tensor = tensor[:rows]
    if cols is not None and tensor.dim() > 1:
        tensor = tensor[:, :cols]
    return tensor


def test_student_gradient_is_local_and_scaled():
    plain = build('resnet18')
    _, model = expanded('resnet18', copy_model=True)
    x = images()
    _loss(plain, x).backward()
    _loss(model, x).backward()  # student mode
    for name, (rows, cols, ratio) in SLICES.items():
        for pname in ('weight', 'bias'):
            ref = getattr(plain.get_submodule(name), pname, None)
            if ref is None:
                continue
            grad = getattr(model.get_submodule(name), pname).grad
            inside = _student_slice(grad, rows, cols)
            torch.testing.assert_close(
                inside, ratio * ref.grad, rtol=1e-4, atol=1e-7)
            outside = grad.clone()
            _student_slice(outside, rows, cols).zero_()
            assert torch.count_nonzero(outside) == 0, (name, pname)


def test_teacher_gradient_reaches_the_whole_store():
    _, model = expanded('resnet18', copy_model=True)
    with gpd_mode(model, 'dynamic_teacher'):
        _loss(model, images()).backward()
    for name, (rows, cols, _) in SLICES.items():
        grad = model.get_submodule(name).weight.grad
        if rows is not None:
            assert torch.count_nonzero(grad[rows:]) > 0, name
        if cols is not None:
            assert torch.count_nonzero(grad[:, cols:]) > 0, name
