"""Shapes, parameter counts and plumbing of the CIFAR backbones.

Parameter counts: every expected integer below is derived twice. Once by
the closed-form layer arithmetic in the ``*_params`` helpers of this file,
written from the architecture specs (He et al. 2016 Sec. 4.2; Zagoruyko
& Komodakis 2016; Simonyan & Zisserman 2015 with BN; Zhang et al. 2018
Table 1; Ma et al. 2018 Table 5; Sandler et al. 2018 Table 2) with the
CIFAR changes of the CRD / RepDistiller benchmark (Tian et al., ICLR
2020), and once as a hard-coded integer; both must equal the built
model's count. Each count includes a 100-class linear head
(``C * 100 + 100``), and rounds to the figure the CIFAR-100 KD
literature reports (e.g. the CRD / DKD / ReviewKD tables): resnet8x4
1.23M, resnet32x4 7.43M, resnet56 0.86M, resnet110 1.74M, WRN-16-2
0.70M, WRN-40-2 2.25M, VGG-8 3.96M, VGG-13 9.46M, ShuffleNetV1 0.95M,
ShuffleNetV2 1.36M, MobileNetV2 (x0.5) 0.81M.
"""
import pytest
import torch
from torch import nn

from mmokd.models.backbones import (CIFARVGG, CIFARMobileNetV2, CIFARResNet,
                                    CIFARShuffleNetV1, CIFARShuffleNetV2,
                                    CIFARWideResNet)
from mmokd.models.backbones.cifar_shufflenet_v1 import channel_shuffle
from mmokd.registry import MODELS

NUM_CLASSES = 100


# Layer arithmetic --------------------------------------------------------
def conv(k, cin, cout, groups=1, bias=False):
    """Weights (and bias) of a k x k convolution."""
    return k * k * (cin // groups) * cout + (cout if bias else 0)


def bn(c):
    """Affine parameters of a BatchNorm layer."""
    return 2 * c


def head(c):
    """A linear classifier with bias over ``NUM_CLASSES`` classes."""
    return c * NUM_CLASSES + NUM_CLASSES


def resnet_params(depth, stem, stages):
    """He et al. CIFAR ResNet, option-B (1x1 conv + BN) projections."""
    n = (depth - 2) // 6
    total = conv(3, 3, stem) + bn(stem)
    cin = stem
    for i, w in enumerate(stages):
        for j in range(n):
            c = cin if j == 0 else w
            total += conv(3, c, w) + bn(w) + conv(3, w, w) + bn(w)
            if j == 0 and (i > 0 or c != w):
                total += conv(1, c, w) + bn(w)
        cin = w
    return total + head(stages[-1])


def wrn_params(depth, k):
    """Pre-activation WRN: 1x1 conv shortcut where the width changes."""
    n = (depth - 4) // 6
    total = conv(3, 3, 16)
    cin = 16
    for w in (16 * k, 32 * k, 64 * k):
        for j in range(n):
            c = cin if j == 0 else w
            total += bn(c) + conv(3, c, w) + bn(w) + conv(3, w, w)
            if c != w:
                total += conv(1, c, w)
        cin = w
    return total + bn(cin) + head(cin)


def vgg_params(convs_per_stage):
    """3x3 convs with bias + BN, widths (64, 128, 256, 512, 512)."""
    total, cin = 0, 3
    for w, n in zip((64, 128, 256, 512, 512), convs_per_stage):
        for _ in range(n):
            total += conv(3, cin, w, bias=True) + bn(w)
            cin = w
    return total + head(512)


def shufflenet_v1_params(groups, stages, blocks=(4, 8, 4)):
    """1x1 stem to 24; bottleneck = branch width / 4; concat on stride 2."""
    total = conv(1, 3, 24) + bn(24)
    cin = 24
    for i, (w, n) in enumerate(zip(stages, blocks)):
        for j in range(n):
            c = cin if j == 0 else w
            out = w - c if j == 0 else w
            mid = out // 4
            g1 = 1 if (i == 0 and j == 0) else groups
            total += conv(1, c, mid, g1) + bn(mid)
            total += conv(3, mid, mid, mid) + bn(mid)
            total += conv(1, mid, out, groups) + bn(out)
        cin = w
    return total + head(stages[-1])


def shufflenet_v2_params(stages, last, blocks=(4, 8, 4)):
    """1x1 stem to 24; down unit + (n - 1) basic units; 1x1 conv5."""
    total = conv(1, 3, 24) + bn(24)
    cin = 24
    for w, n in zip(stages, blocks):
        h = w // 2
        # down unit: left dw3x3 + 1x1, right 1x1 + dw3x3 + 1x1
        total += conv(3, cin, cin, cin) + bn(cin) + conv(1, cin, h) + bn(h)
        total += conv(1, cin, h) + bn(h) + conv(3, h, h, h) + bn(h)
        total += conv(1, h, h) + bn(h)
        # basic units on half of the channels: 1x1, dw3x3, 1x1
        basic = 2 * (conv(1, h, h) + bn(h)) + conv(3, h, h, h) + bn(h)
        total += (n - 1) * basic
        cin = w
    return total + conv(1, cin, last) + bn(last) + head(last)


def mobilenet_v2_params(width_mult, t):
    """RepDistiller MobileNetV2: expansion conv in every block, int()."""
    settings = [(1, 16, 1), (t, 24, 2), (t, 32, 3), (t, 64, 4), (t, 96, 3),
                (t, 160, 3), (t, 320, 1)]
    cin = int(32 * width_mult)
    total = conv(3, 3, cin) + bn(cin)
    for e, c, n in settings:
        w = int(c * width_mult)
        for j in range(n):
            ci = cin if j == 0 else w
            hid = ci * e
            total += conv(1, ci, hid) + bn(hid) + conv(3, hid, hid, hid)
            total += bn(hid) + conv(1, hid, w) + bn(w)
        cin = w
    return total + conv(1, cin, 1280) + bn(1280) + head(1280)


# Per preset: the config, ``out_channels``, the last map's shape for a
# (2, 3, 32, 32) input, the closed-form parameter count and the same
# count hard-coded (both with a 100-class linear head).
CASES = {
    'resnet8x4':
    dict(
        cfg=dict(type='CIFARResNet', arch='resnet8x4'),
        channels=256,
        shape=(2, 256, 8, 8),
        derived=resnet_params(8, 32, (64, 128, 256)),
        expected=1233540),
    'resnet32x4':
    dict(
        cfg=dict(type='CIFARResNet', arch='resnet32x4'),
        channels=256,
        shape=(2, 256, 8, 8),
        derived=resnet_params(32, 32, (64, 128, 256)),
        expected=7433860),
    'resnet20':
    dict(
        cfg=dict(type='CIFARResNet', depth=20),
        channels=64,
        shape=(2, 64, 8, 8),
        derived=resnet_params(20, 16, (16, 32, 64)),
        expected=278324),
    'resnet56':
    dict(
        cfg=dict(type='CIFARResNet', arch='resnet56'),
        channels=64,
        shape=(2, 64, 8, 8),
        derived=resnet_params(56, 16, (16, 32, 64)),
        expected=861620),
    'resnet110':
    dict(
        cfg=dict(type='CIFARResNet', arch='resnet110'),
        channels=64,
        shape=(2, 64, 8, 8),
        derived=resnet_params(110, 16, (16, 32, 64)),
        expected=1736564),
    'wrn_16_2':
    dict(
        cfg=dict(type='CIFARWideResNet', depth=16, widen_factor=2),
        channels=128,
        shape=(2, 128, 8, 8),
        derived=wrn_params(16, 2),
        expected=703284),
    'wrn_40_2':
    dict(
        cfg=dict(type='CIFARWideResNet', arch='wrn_40_2'),
        channels=128,
        shape=(2, 128, 8, 8),
        derived=wrn_params(40, 2),
        expected=2255156),
    'vgg8':
    dict(
        cfg=dict(type='CIFARVGG', depth=8),
        channels=512,
        shape=(2, 512, 4, 4),
        derived=vgg_params((1, 1, 1, 1, 1)),
        expected=3965028),
    'vgg13':
    dict(
        cfg=dict(type='CIFARVGG', arch='vgg13'),
        channels=512,
        shape=(2, 512, 4, 4),
        derived=vgg_params((2, 2, 2, 2, 2)),
        expected=9462180),
    'shufflenet_v1':
    dict(
        cfg=dict(type='CIFARShuffleNetV1', groups=3),
        channels=960,
        shape=(2, 960, 4, 4),
        derived=shufflenet_v1_params(3, (240, 480, 960)),
        expected=949258),
    'shufflenet_v2':
    dict(
        cfg=dict(type='CIFARShuffleNetV2', widen_factor=1.0),
        channels=1024,
        shape=(2, 1024, 4, 4),
        derived=shufflenet_v2_params((116, 232, 464), 1024),
        expected=1355528),
    'mobilenet_v2_x0.5':
    dict(
        cfg=dict(type='CIFARMobileNetV2', width_mult=0.5, expand_ratio=6),
        channels=1280,
        shape=(2, 1280, 2, 2),
        derived=mobilenet_v2_params(0.5, 6),
        expected=812836),
}


def num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('name', list(CASES))
def test_preset_shape_and_param_count(name):
    case = CASES[name]
    cfg, channels, shape = case['cfg'], case['channels'], case['shape']
    model = MODELS.build(cfg)
    assert model.out_channels == channels
    outs = model(torch.rand(2, 3, 32, 32))
    assert isinstance(outs, tuple) and len(outs) == 1
    assert tuple(outs[-1].shape) == shape
    # The returned map is post-ReLU (the input of global pooling).
    assert outs[-1].min() >= 0
    assert case['derived'] == case['expected']
    assert num_params(model) + head(channels) == case['expected']


@pytest.mark.parametrize('cls, kwargs', [
    (CIFARResNet, dict(depth=8)),
    (CIFARWideResNet, dict(depth=10)),
    (CIFARVGG, dict(depth=8)),
    (CIFARMobileNetV2, dict()),
    (CIFARShuffleNetV1, dict()),
])
def test_init_weights(cls, kwargs):
    model = cls(**kwargs)
    model.init_weights()
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    norm = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)
    if model.init_cfg is not None:
        # Kaiming normal, fan-out: std = sqrt(2 / (k * k * out_channels)).
        fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
        std = (2 / fan_out)**0.5
        assert conv.weight.std().item() == pytest.approx(std, rel=0.5)


def test_prefixed_type_builds():
    model = MODELS.build(dict(type='mmokd.CIFARResNet', arch='resnet8x4'))
    assert isinstance(model, CIFARResNet)


# Every returned map of each backbone: channels and height (= width).
ALL_STAGES = [
    dict(
        cls=CIFARResNet,
        kwargs=dict(arch='resnet8x4', out_indices=(0, 1, 2)),
        channels=[64, 128, 256],
        heights=[32, 16, 8]),
    dict(
        cls=CIFARWideResNet,
        kwargs=dict(arch='wrn_16_2', out_indices=(0, 1, 2)),
        channels=[32, 64, 128],
        heights=[32, 16, 8]),
    dict(
        cls=CIFARVGG,
        kwargs=dict(depth=8, out_indices=(0, 1, 2, 3, 4)),
        channels=[64, 128, 256, 512, 512],
        heights=[32, 16, 8, 4, 4]),
    dict(
        cls=CIFARShuffleNetV1,
        kwargs=dict(out_indices=(0, 1, 2)),
        channels=[240, 480, 960],
        heights=[16, 8, 4]),
    dict(
        cls=CIFARShuffleNetV2,
        kwargs=dict(out_indices=(0, 1, 2, 3)),
        channels=[116, 232, 464, 1024],
        heights=[16, 8, 4, 4]),
    dict(
        cls=CIFARMobileNetV2,
        kwargs=dict(out_indices=tuple(range(8))),
        channels=[8, 12, 16, 32, 48, 80, 160, 1280],
        heights=[16, 16, 8, 4, 4, 2, 2, 2]),
]


@pytest.mark.parametrize('case', ALL_STAGES, ids=lambda c: c['cls'].__name__)
def test_all_stages(case):
    model = case['cls'](**case['kwargs'])
    outs = model(torch.rand(2, 3, 32, 32))
    assert [o.shape[1] for o in outs] == case['channels']
    assert [o.shape[2] for o in outs] == case['heights']
    assert model.out_channels == case['channels']


def test_out_indices_order_and_negative():
    model = CIFARResNet(arch='resnet20', out_indices=(-1, 0))
    outs = model(torch.rand(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [64, 16]
    assert model.out_channels == [64, 16]


def test_custom_widths_and_presets():
    model = CIFARResNet(depth=14, stem_channels=8, stage_channels=(8, 16, 24))
    assert model.num_blocks == 2 and model.out_channels == 24
    assert model(torch.rand(1, 3, 32, 32))[0].shape == (1, 24, 8, 8)
    # Explicit arguments override the preset.
    assert CIFARResNet(arch='resnet8x4', depth=14).num_blocks == 2
    assert CIFARWideResNet(arch='wrn_40_2').num_blocks == 6
    assert CIFARVGG(
        stage_channels=[[8], [16]], max_pool_stages=(0, )).out_channels == 16
    # 64x64 inputs: the benchmark also pools after stage 3.
    vgg = CIFARVGG(depth=8, max_pool_stages=(0, 1, 2, 3))
    assert vgg(torch.rand(1, 3, 64, 64))[0].shape == (1, 512, 4, 4)
    assert CIFARVGG(depth=8, norm_cfg=None).out_channels == 512
    assert CIFARShuffleNetV2(widen_factor=0.5).out_channels == 1024
    assert CIFARShuffleNetV1(groups=2).out_channels == 800


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(depth=9),
    dict(arch='resnet7'),
    dict(arch='resnet8x4', out_indices=(3, )),
    dict(depth=8, stage_channels=(1, 2))
])
def test_resnet_bad_arguments(kwargs):
    with pytest.raises((ValueError, KeyError)):
        CIFARResNet(**kwargs)


@pytest.mark.parametrize('cls, kwargs', [
    (CIFARWideResNet, dict()),
    (CIFARWideResNet, dict(depth=18)),
    (CIFARWideResNet, dict(arch='wide')),
    (CIFARVGG, dict(depth=10)),
    (CIFARVGG, dict(arch='vgg13', depth=8)),
    (CIFARShuffleNetV1, dict(groups=5)),
    (CIFARShuffleNetV2, dict(widen_factor=0.75)),
    (CIFARMobileNetV2, dict(out_indices=(8, ))),
])
def test_bad_arguments(cls, kwargs):
    with pytest.raises((ValueError, KeyError)):
        cls(**kwargs)


def test_channel_shuffle():
    x = torch.arange(6.).reshape(1, 6, 1, 1)
    out = channel_shuffle(x, 3)
    assert out.flatten().tolist() == [0., 2., 4., 1., 3., 5.]
    assert x.flatten().tolist() == [0., 1., 2., 3., 4., 5.]


@pytest.mark.parametrize('name', [
    'resnet8x4', 'wrn_16_2', 'vgg8', 'shufflenet_v1', 'shufflenet_v2',
    'mobilenet_v2_x0.5'
])
def test_recorded_outputs_are_not_modified_in_place(name):
    """Outputs that forward hooks record (as distillation recorders do)
    keep their values through forward and backward."""
    model = MODELS.build(CASES[name]['cfg'])
    records = []

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor):
            records.append((output, output.detach().clone()))

    handles = [
        m.register_forward_hook(hook) for m in model.modules()
        if not isinstance(m, nn.Sequential)
    ]
    # Batch 1 keeps this fast; the smallest map (2x2) still feeds BN.
    out = model(torch.rand(1, 3, 32, 32))[-1]
    out.mean().backward()
    for handle in handles:
        handle.remove()
    assert records
    for recorded, snapshot in records:
        assert torch.equal(recorded.detach(), snapshot)
    assert all(p.grad is not None for p in model.parameters())


def test_image_classifier_loss():
    pytest.importorskip('mmpretrain')
    from mmpretrain.structures import DataSample

    model = MODELS.build(
        dict(
            type='mmpretrain.ImageClassifier',
            backbone=dict(type='mmokd.CIFARResNet', arch='resnet8x4'),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=NUM_CLASSES,
                in_channels=256,
                loss=dict(type='CrossEntropyLoss', loss_weight=1.0))))
    model.init_weights()
    assert isinstance(model.backbone, CIFARResNet)
    assert num_params(model) == CASES['resnet8x4']['expected']
    inputs = torch.rand(4, 3, 32, 32)
    samples = [DataSample().set_gt_label(i * 7) for i in range(4)]
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss'}
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    logits = model(inputs, mode='tensor')
    assert logits.shape == (4, NUM_CLASSES)
