"""BN folding of frozen networks: every eval-mode conv -> BN pair of an
OpenMMLab network folded, the values kept, the network itself unchanged,
and the pairs whose folding would change a value left alone."""
import copy

import pytest
import torch
from mmcv.cnn import ConvModule
from mmpretrain.models import ImageClassifier
from torch import nn
from torch.profiler import ProfilerActivity, profile

from mmokd.models.utils import BatchNormFolding
from mmokd.registry import MODELS


def classifier(backbone: str = 'ResNet') -> nn.Module:
    """An mmpretrain ResNet-18 classifier in eval mode whose BN layers
    hold statistics and affine weights far from the identity."""
    torch.manual_seed(0)
    net = ImageClassifier(
        backbone=dict(type=backbone, depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512))
    randomise_batch_norms(net)
    net.eval()
    return net


def randomise_batch_norms(net: nn.Module) -> None:
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.5)


def batch_norm_ops(forward) -> int:
    """How many ``aten::batch_norm`` calls ``forward`` makes."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        forward()
    return sum(event.count for event in prof.key_averages()
               if event.key == 'aten::batch_norm')


def num_batch_norms(net: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def unfolded_and_folded(net: nn.Module, forward) -> tuple:
    """A new folding of ``net``, and ``forward``'s outputs without it and
    with it (the first call folds)."""
    folding = BatchNormFolding(net, 'teacher')
    with torch.no_grad():
        expected = forward()
        with folding.folded(forward):
            folded = forward()
    return folding, expected, folded


@pytest.mark.parametrize('backbone', ['ResNet', 'ResNetV1c'])
def test_every_bn_of_a_classifier_is_folded_and_the_logits_kept(backbone):
    """The basic blocks, the projection shortcuts and ResNetV1c's
    sequential deep stem: no BN operator runs, the logits are the
    unfolded ones up to rounding, and afterwards the network is the one
    built (same modules, bit-identical state)."""
    net = classifier(backbone)
    images = torch.randn(2, 3, 64, 64)
    modules = list(net.named_modules())
    state = copy.deepcopy(net.state_dict())
    folding = BatchNormFolding(net, 'teacher')

    def forward():
        return net(images, mode='tensor')

    with torch.no_grad():
        expected = forward()
        assert batch_norm_ops(forward) == num_batch_norms(net)
        with folding.folded(forward):
            assert batch_norm_ops(forward) == 0
            folded = forward()
    assert folding.num_folded == num_batch_norms(net)
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)
    assert list(net.named_modules()) == modules
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_a_hooked_pair_is_not_folded_and_its_hook_sees_bn_outputs():
    """A distiller's recorder on a BN (or its convolution) would record
    other values if the pair were folded."""
    net = classifier()
    images = torch.randn(2, 3, 64, 64)
    records = []
    net.backbone.layer1[0].bn1.register_forward_hook(
        lambda module, args, output: records.append(output))
    folding, expected, folded = unfolded_and_folded(
        net, lambda: net(images, mode='tensor'))
    assert folding.num_folded == num_batch_norms(net) - 1
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(records[-1], records[0])


@pytest.mark.parametrize('order', [('norm', 'conv', 'act'),
                                   ('conv', 'act', 'norm')])
def test_a_bn_not_applied_to_a_convolutions_output_is_not_folded(order):
    """mmcv's ConvModule registers its convolution before its norm in
    every order: a BN applied before the convolution, or after an
    in-place ReLU changed the convolution's output, is not folded."""
    torch.manual_seed(0)
    net = nn.Sequential(
        ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='BN'), order=order),
        ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='BN')))
    randomise_batch_norms(net)
    net.eval()
    images = torch.randn(2, 8, 16, 16)
    folding, expected, folded = unfolded_and_folded(net, lambda: net(images))
    assert folding.num_folded == 1  # the second module's conv -> norm
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)


class ConvUsedTwice(nn.Module):
    """``bn(conv(x)) + conv(x)``: the convolution's output feeds more than
    its BN, which the hooks cannot see."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


def test_a_fold_that_changes_the_outputs_is_dropped():
    torch.manual_seed(0)
    net = ConvUsedTwice()
    randomise_batch_norms(net)
    net.eval()
    images = torch.randn(2, 4, 8, 8)
    folding = BatchNormFolding(net, 'teacher')
    with torch.no_grad():
        expected = net(images)
        with folding.folded(lambda: net(images)):
            assert batch_norm_ops(lambda: net(images)) == 1
            folded = net(images)
    assert folding.num_folded == 0
    assert torch.equal(folded, expected)


def test_the_folds_follow_a_loaded_checkpoint_and_a_dtype_change():
    """Folds of stale weights would give the old network's logits."""
    net = classifier()
    images = torch.randn(2, 3, 64, 64)
    folding = BatchNormFolding(net, 'teacher')

    def forward():
        return net(images.to(next(net.parameters()).dtype), mode='tensor')

    with torch.no_grad():
        with folding.folded(forward):
            forward()
        other = classifier()
        randomise_batch_norms(other)  # other statistics than ``net``'s
        net.load_state_dict(other.state_dict())
        expected = forward()
        with folding.folded(forward):
            folded = forward()
        torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)
        net.double()
        expected = forward()
        with folding.folded(forward):
            folded = forward()
    assert folded.dtype == torch.float64
    torch.testing.assert_close(folded, expected, rtol=1e-10, atol=1e-10)


def test_bn_in_train_mode_is_not_folded():
    """Batch statistics cannot be folded: they change with the batch."""
    net = classifier()
    net.train()
    images = torch.randn(2, 3, 64, 64)
    folding, expected, folded = unfolded_and_folded(
        net, lambda: net(images, mode='tensor'))
    assert folding.num_folded == 0
    assert torch.equal(folded, expected)


@pytest.mark.parametrize('cfg,folded_count', [
    (dict(type='mmokd.CIFARResNet', arch='resnet8x4'), 10),
    (dict(type='mmokd.CIFARWideResNet', arch='wrn_16_2'), 7),
    (dict(type='mmokd.CIFARVGG', arch='vgg8'), 5),
    (dict(type='mmokd.CIFARShuffleNetV1', groups=3), 49),
    (dict(type='mmokd.CIFARShuffleNetV2', widen_factor=1.0), 56),
    (dict(type='mmokd.CIFARMobileNetV2', width_mult=0.5, expand_ratio=6),
     53),
    (dict(type='mmokd.CIFARBasicResNet', arch='resnet10_s'), 12),
], ids=lambda value: value['type'].split('.')[-1]
   if isinstance(value, dict) else str(value))
def test_the_shipped_cifar_backbones_fold_and_keep_their_outputs(
        cfg, folded_count):
    """The teachers of the offline-KD and MC-Distil configs: every BN
    folds, but in the pre-activation WideResNet, whose BN layers mostly
    normalise sums (7 of 13 fold: each block's second, and the first
    block's first, fed by the stem's convolution alone); grouped and
    depthwise convolutions (ShuffleNet, MobileNet) fold too."""
    torch.manual_seed(0)
    net = MODELS.build(cfg)
    randomise_batch_norms(net)
    net.eval()
    images = torch.randn(2, 3, 32, 32)
    folding, expected, folded = unfolded_and_folded(net, lambda: net(images))
    assert folding.num_folded == folded_count
    for want, got in zip(expected, folded):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
