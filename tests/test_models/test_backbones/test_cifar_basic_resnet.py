"""Shapes and sizes of the four-stage CIFAR ResNets of MC-Distil."""
import pytest
import torch
from mmengine.config import Config

from mmokd.models.backbones import CIFARBasicResNet
from mmokd.registry import MODELS

# Parameter counts of the classifiers with 100 classes (reference
# mc_distil/models/base.py, counted by the reference implementation notes).
PARAMS_100 = {
    'resnet10_xxxs': 8.0e3,
    'resnet10_xxs': 13.0e3,
    'resnet10_xs': 27.9e3,
    'resnet10_s': 83.9e3,
    'resnet10_m': 320e3,
    'resnet10_l': 1.25e6,
    'resnet10': 4.95e6,
    'resnet18': 11.2e6,
    'resnet34': 21.3e6,
}


def classifier(arch):
    return MODELS.build(
        Config(
            dict(
                type='mmpretrain.ImageClassifier',
                backbone=dict(type='mmokd.CIFARBasicResNet', arch=arch),
                neck=dict(type='mmpretrain.GlobalAveragePooling'),
                head=dict(
                    type='mmpretrain.LinearClsHead',
                    num_classes=100,
                    in_channels=CIFARBasicResNet.arch_settings[arch][0][-1]))))


@pytest.mark.parametrize('arch', sorted(PARAMS_100))
def test_parameter_counts_match_the_reference(arch):
    count = sum(p.numel() for p in classifier(arch).parameters())
    assert count == pytest.approx(PARAMS_100[arch], rel=0.02)


def test_stage_maps_and_any_input_size():
    net = CIFARBasicResNet(arch='resnet10_s', out_indices=(0, 1, 2, 3))
    shapes = [tuple(o.shape) for o in net(torch.rand(2, 3, 32, 32))]
    assert shapes == [(2, 8, 32, 32), (2, 16, 16, 16), (2, 32, 8, 8),
                      (2, 64, 4, 4)]
    assert net.out_channels == [8, 16, 32, 64]
    logits = classifier('resnet10_xxs')(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 100)


def test_block_counts_and_errors():
    net = CIFARBasicResNet(arch='resnet34')
    assert [len(getattr(net, n)) for n in net.layer_names] == [3, 4, 6, 3]
    with pytest.raises(KeyError, match='resnet10_xl'):
        CIFARBasicResNet(arch='resnet10_xl')
    with pytest.raises(ValueError, match='four stage widths'):
        CIFARBasicResNet(stage_channels=(8, 16, 32))
