"""MobileNet V1: architecture of Howard et al. 2017, Table 1."""
import pytest
import torch

from mmokd.models.backbones import MobileNetV1
from mmokd.models.backbones.mobilenet_v1 import BLOCKS
from mmokd.registry import MODELS


def count_from_table(num_classes=1000):
    """Stem conv + BN, then per block: depthwise 3x3 + BN, pointwise 1x1 +
    BN; then a linear classifier."""
    channels, total = 32, 3 * 3 * 3 * 32 + 2 * 32
    for out, _ in BLOCKS:
        total += 9 * channels + 2 * channels + channels * out + 2 * out
        channels = out
    return total + channels * num_classes + num_classes


def test_parameter_count_matches_the_paper():
    model = MODELS.build(dict(
        _scope_='mmpretrain', type='ImageClassifier',
        backbone=dict(type='mmokd.MobileNetV1'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024)))
    total = sum(p.numel() for p in model.parameters())
    assert total == count_from_table() == 4_231_976  # paper: 4.2M


def test_output_strides_and_channels():
    model = MobileNetV1(out_indices=(0, 1, 2, 4, 6, 12, 13))
    outs = model(torch.rand(2, 3, 224, 224))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (32, 112, 112), (64, 112, 112), (128, 56, 56), (256, 28, 28),
        (512, 14, 14), (1024, 7, 7), (1024, 7, 7)]
    assert model.out_channels == [32, 64, 128, 256, 512, 1024, 1024]


def test_width_multiplier_and_bad_indices():
    assert MobileNetV1(widen_factor=0.5).out_channels == 512
    with pytest.raises(ValueError, match='out of range'):
        MobileNetV1(out_indices=(14, ))
