"""MobileNet V1 (Howard et al., 2017) for ImageNet-size inputs."""
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS
from .cifar_utils import (KAIMING_INIT, check_out_indices, conv_norm_act,
                          out_channels_of)

# (output channels, stride) of the 13 depthwise-separable blocks, paper
# Table 1; the stem is a 3x3 stride-2 convolution with 32 channels.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
          (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))

_BN = dict(type='BN')


@MODELS.register_module()
class MobileNetV1(BaseModule):
    """MobileNet V1 backbone.

    Howard et al., "MobileNets: Efficient Convolutional Neural Networks for
    Mobile Vision Applications", arXiv 1704.04861, 2017, Table 1: a 3x3
    stride-2 stem with 32 channels, then 13 depthwise-separable blocks
    (3x3 depthwise + 1x1 pointwise, each with BatchNorm and ReLU) up to 1024
    channels at stride 32. With a 1000-class linear head it has 4,231,976
    parameters (the paper's 4.2M). mmpretrain has no MobileNet V1; the GPD
    and ADM papers use it as the student of ResNet-50.

    Example:
        >>> import torch
        >>> model = MobileNetV1()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 224, 224))]
        [(1, 1024, 7, 7)]

    Args:
        widen_factor (float): Width multiplier ``alpha`` of every layer.
        out_indices (Sequence[int]): Blocks whose outputs are returned
            (0 = stem, 1..13 = blocks). Defaults to the last one.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(
            self,
            widen_factor: float = 1.0,
            out_indices: Sequence[int] = (13, ),
            init_cfg: Optional[Union[dict,
                                     List[dict]]] = KAIMING_INIT) -> None:
        super().__init__(init_cfg)
        self.out_indices = check_out_indices(out_indices, len(BLOCKS) + 1)
        width = [int(32 * widen_factor)]
        width += [int(c * widen_factor) for c, _ in BLOCKS]
        layers = [conv_norm_act(3, width[0], 3, _BN, stride=2)]
        for i, (_, stride) in enumerate(BLOCKS):
            layers.append(
                nn.Sequential(
                    conv_norm_act(
                        width[i],
                        width[i],
                        3,
                        _BN,
                        stride=stride,
                        groups=width[i]),
                    conv_norm_act(width[i], width[i + 1], 1, _BN)))
        self.layers = nn.ModuleList(layers)
        self.out_channels = out_channels_of(width, self.out_indices)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Returns the feature maps of ``out_indices``.

        Args:
            x (Tensor): ``(N, 3, H, W)`` images.

        Returns:
            tuple[Tensor]: The requested maps, in index order.
        """
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
