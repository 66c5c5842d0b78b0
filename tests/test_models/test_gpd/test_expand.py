"""Inverse Reparameterization and the widened structure on real models.

GPD (Guo et al., ICLR 2025, Sec. 3.2-3.3): the dynamic teacher computes
the student's function at step 0, the student view reproduces the
student, and the structure is widened as the paper defines; checked
against the plain mmpretrain / mmseg / mmokd models.
"""
import pytest
import torch
from torch import nn

from mmokd.models.gpd import GPDActivation, GPDBatchNorm2d, GPDConv2d, gpd_mode
from mmokd.models.gpd.multi_branch_conv import replace_module
from mmokd.models.gpd.trace import forward_all
from tests.test_models.test_gpd.gpd_models import (build, expanded, images,
                                                   logits)


def both_modes(model, x):
    """All output tensors in student and in dynamic-teacher mode."""
    with torch.no_grad():
        student = forward_all(model, x)
        with gpd_mode(model, 'dynamic_teacher'):
            teacher = forward_all(model, x)
    return student, teacher


def max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('name', [
    'resnet18', 'resnet34', 'resnet50', 'mobilenet_v1', 'mobilenet_v2',
    'mobilenet_v3_small', 'deeplabv3_r18', 'pspnet_r18'
])
def test_ir_exact_in_eval(name):
    """Noise 0: DT == student == plain student."""
    plain, model = expanded(name)
    x = images(seed=3)
    with torch.no_grad():
        reference = forward_all(plain, x)
    student, teacher = both_modes(model, x)
    scale = max(r.abs().max().item() for r in reference)
    assert len(reference) == (2 if 'r18' in name else 1)  # + aux head
    assert all(torch.equal(s, r) for s, r in zip(student, reference))
    assert max_diff(teacher, reference) < 1e-5 * scale


@pytest.mark.parametrize('name', ['resnet18', 'pspnet_r18'])
def test_ir_exact_in_train_mode(name):
    """The same with BN batch statistics (the authors' code: 4.0e-6 on
    R18); the seed is reset before each forward for the heads' dropout."""
    _, model = expanded(name, copy_model=True)
    plain = build(name).train()
    model.train()
    x = images(4, size=64, seed=4)  # batch statistics of >= 4 values
    outputs = []
    for net, mode in ((plain, 'student'), (model, 'student'),
                      (model, 'dynamic_teacher')):
        torch.manual_seed(0)
        with torch.no_grad():
            if net is plain:
                outputs.append(forward_all(net, x))
            else:
                with gpd_mode(net, mode):
                    outputs.append(forward_all(net, x))
    reference, student, teacher = outputs
    scale = max(r.abs().max().item() for r in reference)
    assert max_diff(student, reference) < 1e-5 * scale
    assert max_diff(teacher, reference) < 1e-4 * scale


def test_ir_exact_for_ratio_3():
    """Exact IR and the store size for r = 3 (102,011,560 parameters)."""
    plain, model = expanded('resnet18', ratio=3)
    assert n_params(model) == 102_011_560
    x = images()
    student, teacher = both_modes(model, x)
    reference = logits(plain, x)
    assert (student[0] - reference).abs().max() < 1e-5
    assert (teacher[0] - reference).abs().max() < 1e-5


def test_default_noise_keeps_dt_close():
    """Noise 1e-6 makes DT != student, but only slightly."""
    _, model = expanded('resnet18', noise_std=1e-6)
    student, teacher = both_modes(model, images())
    gap = (student[0] - teacher[0]).abs().max().item()
    assert 0 < gap < 1e-3 * teacher[0].abs().max().item()
    conv = model.backbone.layer1[0].conv1.weight
    assert not torch.equal(conv[:64], conv[64:])


def test_activation_structure():
    """DT activation == cat([student / r] * r) (BN, conv)."""
    _, model = expanded('resnet18', copy_model=True)
    outs = {}

    def hook(name):
        return lambda mod, args, out: outs.setdefault(name, []).append(out)

    for name in ('backbone.layer2.0.bn1', 'backbone.layer3.1.conv2'):
        model.get_submodule(name).register_forward_hook(hook(name))
    both_modes(model, images())
    for name, (student, teacher) in outs.items():
        expected = torch.cat([student / 2] * 2, 1)
        assert teacher.shape[1] == 2 * student.shape[1]
        tolerance = 1e-5 * expected.abs().max()
        assert (teacher - expected).abs().max() < tolerance, name


def test_weight_structure_and_shapes():
    """Tiled and rescaled weights on ResNet-18 (exact with noise 0)."""
    plain, model = expanded('resnet18')
    stem, stem_p = plain.backbone.conv1.weight, model.backbone.conv1.weight
    assert stem_p.shape == (128, 3, 7, 7)
    assert torch.equal(2 * stem_p[:64], stem)
    assert torch.equal(stem_p[64:], stem / 2)
    conv = plain.backbone.layer2[0].conv1.weight
    conv_p = model.backbone.layer2[0].conv1.weight
    assert conv_p.shape == (256, 128, 3, 3)
    assert torch.equal(2 * conv_p[:128, :64], conv)
    for rows in (slice(0, 128), slice(128, 256)):
        for cols in (slice(0, 64), slice(64, 128)):
            assert torch.equal(conv_p[rows, cols], conv / 2)
    down_p = model.backbone.layer2[0].downsample[0].weight
    assert down_p.shape == (256, 128, 1, 1)
    fc, fc_p = plain.head.fc, model.head.fc
    assert fc_p.weight.shape == (1000, 1024)
    assert torch.equal(fc_p.weight[:, :512], fc.weight)
    assert torch.equal(fc_p.weight[:, 512:], fc.weight)
    assert torch.equal(fc_p.bias, fc.bias)
    bn, bn_p = plain.backbone.layer4[1].bn2, model.backbone.layer4[1].bn2
    assert bn_p.weight.shape == (1024, )
    for half in (slice(0, 512), slice(512, 1024)):
        assert torch.equal(bn_p.weight[half], bn.weight)
        assert torch.equal(bn_p.running_var[half], bn.running_var)
    assert torch.equal(bn_p.student_running_mean, bn.running_mean)
    assert (bn_p.eps, bn_p.momentum) == (bn.eps, bn.momentum)


def test_mobilenet_v1_depthwise_and_counts():
    """MobileNet-V1: groups x r, weights tiled, parameter counts."""
    plain, model = expanded('mobilenet_v1')
    assert n_params(plain) == 4_231_976
    assert n_params(model) == 14_742_120
    dw, dw_p = plain.backbone.layers[2][0][0], model.backbone.layers[2][0][0]
    assert isinstance(dw_p, GPDConv2d) and dw_p.grouped
    assert dw_p.weight.shape == (128, 1, 3, 3)
    assert dw_p.groups * dw_p.ratio == 128
    assert torch.equal(dw_p.weight[:64], dw.weight)
    assert torch.equal(dw_p.weight[64:], dw.weight)
    assert model.backbone.layers[0][0].weight.shape == (64, 3, 3, 3)
    assert model.head.fc.weight.shape == (1000, 2048)


def test_resnet18_parameter_count():
    """Store of 45,693,032 for the 11,689,512-parameter R18."""
    plain, model = expanded('resnet18')
    assert n_params(plain) == 11_689_512
    assert n_params(model) == 45_693_032


def test_separate_bn_statistics():
    """Each mode's training forward updates only its own
    running statistics; the affine parameters are shared."""
    _, model = expanded('resnet18', copy_model=True)
    bn = model.backbone.layer1[0].bn1
    state = {k: v.clone() for k, v in bn.state_dict().items()}
    model.train()
    with torch.no_grad():
        model(images(4), mode='tensor')
    changed = {
        k
        for k, v in bn.state_dict().items() if not torch.equal(v, state[k])
    }
    assert changed == {
        'student_running_mean', 'student_running_var',
        'student_num_batches_tracked'
    }
    state = {k: v.clone() for k, v in bn.state_dict().items()}
    with torch.no_grad(), gpd_mode(model, 'dynamic_teacher'):
        model(images(4), mode='tensor')
    changed = {
        k
        for k, v in bn.state_dict().items() if not torch.equal(v, state[k])
    }
    assert changed == {'running_mean', 'running_var', 'num_batches_tracked'}


def test_mode_switching_has_no_side_effects():
    """S, D, S forwards in eval give identical S outputs."""
    _, model = expanded('resnet18', noise_std=1e-6)
    x = images()
    first = logits(model, x)
    with gpd_mode(model, 'dynamic_teacher'):
        teacher = logits(model, x)
    assert torch.equal(logits(model, x), first)
    assert not torch.equal(teacher, first)


def test_segmentation_heads():
    """mmseg heads outside scope='backbone' read the widened backbone:
    input-widened convs, PSPHead's bottleneck gets a column map, the
    shared head BN keeps separate statistics (extension of the paper)."""
    _, model = expanded('pspnet_r18')
    head = model.decode_head
    bottleneck = head.bottleneck.conv
    assert bottleneck.in_layout == ((512, True), ) + ((128, False), ) * 4
    assert bottleneck.weight.shape == (128, 1024 + 512, 3, 3)
    assert bottleneck.student_index.tolist() == (
        list(range(512)) + list(range(1024, 1536)))
    ppm_conv = head.psp_modules[0][1].conv
    assert ppm_conv.weight.shape == (128, 1024, 1, 1)
    assert not ppm_conv.out_expanded
    aux = model.auxiliary_head.convs[0].conv
    assert aux.weight.shape[1] == 2 * 256
    assert isinstance(head.bottleneck.bn, GPDBatchNorm2d)
    assert not head.bottleneck.bn.expanded
    assert isinstance(head.conv_seg, nn.Conv2d)  # shared in full, plain


def test_relu6_wrapper_is_needed_for_exact_ir():
    """MobileNetV2's ReLU6 runs as ReLU6(r x) / r in the DT;
    without the wrapper the DT drifts from the student."""
    _, model = expanded('mobilenet_v2', copy_model=True)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, GPDBatchNorm2d):
                module.bias.add_(4.0)  # push pre-activations past 6
    x = images()
    student, teacher = both_modes(model, x)
    wrapped = max_diff(student, teacher)
    names = [
        n for n, m in model.named_modules() if isinstance(m, GPDActivation)
    ]
    assert len(names) == 35
    for name in names:
        replace_module(model, name, model.get_submodule(name).act)
    student_raw, teacher_raw = both_modes(model, x)
    assert max_diff(student_raw, student) == 0
    assert wrapped < 1e-5 * student[0].abs().max()
    assert max_diff(student_raw, teacher_raw) > 100 * max(wrapped, 1e-7)


def test_squeeze_excitation_gates():
    """MobileNetV3: SE sigmoids gate a widened tensor, so the DT runs them
    as HSigmoid(r x) (duplicated gate), HSwish as HSwish(r x) / r."""
    _, model = expanded('mobilenet_v3_small')
    wrappers = {
        n: m
        for n, m in model.named_modules() if isinstance(m, GPDActivation)
    }
    gates = sorted(n for n, m in wrappers.items() if m.gate)
    se_acts = sorted(n for n in wrappers if '.se.conv2.' in n)
    assert gates == se_acts and len(gates) == 9
    assert 'head.layers.0.act' in wrappers  # HSwish of the stacked head
