"""The layout of graph-free forwards: channels-last image batches on the
CPU, everything else unchanged."""
import torch
from mmpretrain.models import ResNet

from mmokd.models.utils import graph_free_layout


def test_a_cpu_image_batch_becomes_channels_last_with_equal_values():
    images = torch.randn(2, 3, 8, 8)
    moved = graph_free_layout(images)
    assert moved.is_contiguous(memory_format=torch.channels_last)
    assert not images.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(moved, images)


def test_other_shapes_keep_their_layout():
    for shape in [(4, 10), (2, 3, 8), (1, 2, 3, 4, 5)]:
        tensor = torch.randn(shape)
        assert graph_free_layout(tensor) is tensor


def test_a_resnet_forward_on_the_layout_gives_the_nchw_logits():
    """The layout propagates from the input through convolutions,
    BatchNorm, pooling and residual additions, and changes values only
    by float rounding."""
    torch.manual_seed(0)
    net = ResNet(depth=18, out_indices=(0, 3))
    net.eval()  # mmpretrain's ResNet.train returns None
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        nchw = net(images)
        channels_last = net(graph_free_layout(images))
    assert channels_last[0].is_contiguous(memory_format=torch.channels_last)
    for expected, actual in zip(nchw, channels_last):
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
