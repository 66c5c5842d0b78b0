"""ShuffleNet (v1) for 32x32 inputs."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS
from .cifar_utils import (StagedBackbone, check_out_indices,
                          check_stage_blocks, norm_layer, preset)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleaves the channels of ``groups`` equal groups.

    Channel ``g * (C / groups) + i`` moves to position ``i * groups + g``,
    so that each group of the next grouped convolution sees channels from
    every group of the previous one.

    Args:
        x (Tensor): Input of shape (N, C, H, W), ``C`` divisible by
            ``groups``.
        groups (int): Number of groups.

    Returns:
        Tensor: The shuffled tensor, same shape as ``x`` (a new tensor).
    """
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h,
                     w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnit(BaseModule):
    """ShuffleNet unit: GConv1x1-shuffle-DWConv3x3-GConv1x1 plus shortcut.

    With stride 1 the branch output (``out_channels``) is added to the
    input; with stride 2 it is concatenated with a 3x3 average pooling of
    the input, so the unit outputs ``out_channels + in_channels``. ReLU
    follows the addition or concatenation. The bottleneck width is
    ``out_channels // 4``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Channels of the residual branch.
        stride (int): 1 or 2. Defaults to 1.
        groups (int): Groups of the pointwise convolutions. Defaults to 3.
        first_group_conv (bool): Whether the first pointwise convolution
            is grouped (the paper keeps the network's very first one
            dense, its input being narrow). Defaults to True.
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 groups: int = 3,
                 first_group_conv: bool = True,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        if stride == 1 and in_channels != out_channels:
            raise ValueError('a stride-1 unit needs in_channels == '
                             'out_channels')
        mid_channels = out_channels // 4
        self.stride = stride
        self.first_groups = groups if first_group_conv else 1
        self.conv1 = nn.Conv2d(
            in_channels, mid_channels, 1, groups=self.first_groups, bias=False)
        self.bn1 = norm_layer(norm_cfg, mid_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(
            mid_channels,
            mid_channels,
            3,
            stride=stride,
            padding=1,
            groups=mid_channels,
            bias=False)
        self.bn2 = norm_layer(norm_cfg, mid_channels)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(
            mid_channels, out_channels, 1, groups=groups, bias=False)
        self.bn3 = norm_layer(norm_cfg, out_channels)
        self.shortcut = nn.AvgPool2d(3, stride=2, padding=1) \
            if stride == 2 else None
        self.relu3 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        """Applies the unit.

        Args:
            x (Tensor): Input of shape (N, C_in, H, W).

        Returns:
            Tensor: Output of shape (N, C_out, H, W) for stride 1, or
            (N, C_out + C_in, H / 2, W / 2) for stride 2.
        """
        out = self.relu1(self.bn1(self.conv1(x)))
        if self.first_groups > 1:
            out = channel_shuffle(out, self.first_groups)
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut is None:
            out = out + x
        else:
            out = torch.cat([out, self.shortcut(x)], dim=1)
        return self.relu3(out)


@MODELS.register_module()
class CIFARShuffleNetV1(StagedBackbone):
    """ShuffleNet 1x (v1) for CIFAR.

    Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural
    Network for Mobile Devices", CVPR 2018. ShuffleNetV1 with ``g = 3`` is
    a CIFAR-100 student of the distillation benchmark of Tian et al.,
    "Contrastive Representation Distillation", ICLR 2020, also used by
    the ADM paper (ICML 2025).

    CIFAR variant of that benchmark: the 3x3 stride-2 stem convolution
    and max pooling of the ImageNet network become a 1x1 convolution to
    24 channels (stride 1) with BN and ReLU, so a 32x32 input gives stage
    maps of 16x16, 8x8 and 4x4 (stride ``2 ** (i + 1)``), each returned
    after the stage's last ReLU. Stages 2-4 of the paper (Table 1) have 4,
    8 and 4 units, the first of each with stride 2. As in the benchmark,
    ReLU also follows the depthwise convolution's BN (the paper leaves it
    linear); it adds no parameters.

    Output channels per stage, by ``groups`` (paper, Table 1, 1x):

    ====== ================ ==================
    groups stage channels   ``out_channels``
    ====== ================ ==================
    1      (144, 288, 576)  576
    2      (200, 400, 800)  800
    3      (240, 480, 960)  960
    ====== ================ ==================

    Example:
        >>> import torch
        >>> model = CIFARShuffleNetV1(groups=3)
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 960, 4, 4)]

    Args:
        groups (int): Groups of the pointwise convolutions: 1, 2 or 3.
            Defaults to 3.
        stage_blocks (Sequence[int]): Units per stage.
            Defaults to ``(4, 8, 4)``.
        out_indices (int | Sequence[int]): Stages (0, 1, 2) whose maps
            are returned, in this order; negative values count from the
            end. Defaults to ``(2, )``.
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default initialization, as in the
            benchmark code).

    Attributes:
        stage_channels (tuple[int]): Output channels of every stage.
    """

    arch_settings: Dict[int, Tuple[int, int, int]] = {
        1: (144, 288, 576),
        2: (200, 400, 800),
        3: (240, 480, 960),
    }
    stem_channels = 24

    def __init__(self,
                 groups: int = 3,
                 stage_blocks: Sequence[int] = (4, 8, 4),
                 out_indices: Union[int, Sequence[int]] = (2, ),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.stage_channels = preset(self.arch_settings, groups, 'groups')
        self.stage_blocks = check_stage_blocks(stage_blocks, 3)
        self.groups = groups
        self.out_indices = check_out_indices(out_indices, 3)

        self.add_stem(self.stem_channels, 1, norm_cfg)
        in_channels = self.stem_channels
        for i, (channels, num_units) in enumerate(
                zip(self.stage_channels, self.stage_blocks)):
            units = []
            for j in range(num_units):
                if j == 0:
                    units.append(
                        ShuffleUnit(
                            in_channels,
                            channels - in_channels,
                            stride=2,
                            groups=groups,
                            first_group_conv=i > 0,
                            norm_cfg=norm_cfg))
                else:
                    units.append(
                        ShuffleUnit(
                            channels,
                            channels,
                            groups=groups,
                            norm_cfg=norm_cfg))
            self.add_stage(units)
            in_channels = channels
