"""ShuffleNet V2 for 32x32 inputs."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS
from .cifar_utils import (StagedBackbone, check_out_indices,
                          check_stage_blocks, conv_norm_act, preset)
from .cifar_shufflenet_v1 import channel_shuffle


class ShuffleV2Unit(BaseModule):
    """Basic ShuffleNet V2 unit (stride 1): channel split, one branch.

    The input is split into halves; the second half goes through
    1x1 conv-BN-ReLU, 3x3 depthwise conv-BN, 1x1 conv-BN-ReLU and is
    concatenated after the untouched first half, then the two halves'
    channels are shuffled.

    Args:
        channels (int): Input and output channels (even).
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if channels % 2:
            raise ValueError(f'channels must be even, got {channels}')
        half = channels // 2
        self.branch = nn.Sequential(
            conv_norm_act(half, half, 1, norm_cfg),
            conv_norm_act(half, half, 3, norm_cfg, groups=half, act=False),
            conv_norm_act(half, half, 1, norm_cfg))

    def forward(self, x: Tensor) -> Tensor:
        """Applies the unit.

        Args:
            x (Tensor): Input of shape (N, C, H, W).

        Returns:
            Tensor: Output of the same shape.
        """
        kept, processed = x.chunk(2, dim=1)
        out = torch.cat([kept, self.branch(processed)], dim=1)
        return channel_shuffle(out, 2)


class ShuffleV2DownUnit(BaseModule):
    """Spatial down-sampling ShuffleNet V2 unit (stride 2), two branches.

    Left: 3x3 depthwise conv (stride 2)-BN, 1x1 conv-BN-ReLU. Right:
    1x1 conv-BN-ReLU, 3x3 depthwise conv (stride 2)-BN, 1x1 conv-BN-ReLU.
    Each branch gives ``out_channels / 2`` channels; they are
    concatenated and shuffled.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels (even).
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if out_channels % 2:
            raise ValueError(f'out_channels must be even, got {out_channels}')
        mid = out_channels // 2
        self.branch1 = nn.Sequential(
            conv_norm_act(
                in_channels,
                in_channels,
                3,
                norm_cfg,
                stride=2,
                groups=in_channels,
                act=False), conv_norm_act(in_channels, mid, 1, norm_cfg))
        self.branch2 = nn.Sequential(
            conv_norm_act(in_channels, mid, 1, norm_cfg),
            conv_norm_act(
                mid, mid, 3, norm_cfg, stride=2, groups=mid, act=False),
            conv_norm_act(mid, mid, 1, norm_cfg))

    def forward(self, x: Tensor) -> Tensor:
        """Applies the unit.

        Args:
            x (Tensor): Input of shape (N, C_in, H, W).

        Returns:
            Tensor: Output of shape (N, C_out, H / 2, W / 2).
        """
        out = torch.cat([self.branch1(x), self.branch2(x)], dim=1)
        return channel_shuffle(out, 2)


@MODELS.register_module()
class CIFARShuffleNetV2(StagedBackbone):
    """ShuffleNet V2 for CIFAR.

    Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN
    Architecture Design", ECCV 2018. ShuffleNetV2 1.0x is a CIFAR-100
    student of the distillation benchmark of Tian et al., "Contrastive
    Representation Distillation", ICLR 2020, also used by the ADM paper
    (ICML 2025).

    CIFAR variant of that benchmark: the 3x3 stride-2 stem convolution
    and max pooling of the ImageNet network become a 1x1 convolution to
    24 channels (stride 1) with BN and ReLU, so a 32x32 input gives stage
    maps of 16x16, 8x8 and 4x4. Stages 2-4 of the paper (Table 5) have 4,
    8 and 4 units, the first a down-sampling unit; a final 1x1 conv-BN-
    ReLU (conv5) widens the map before global pooling.

    Channels by ``widen_factor`` (paper, Table 5):

    ============ ================== ==================
    widen_factor stage channels     ``out_channels``
    ============ ================== ==================
    0.5          (48, 96, 192)      1024
    1.0          (116, 232, 464)    1024
    1.5          (176, 352, 704)    1024
    2.0          (244, 488, 976)    2048
    ============ ================== ==================

    Example:
        >>> import torch
        >>> model = CIFARShuffleNetV2(widen_factor=1.0)
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 1024, 4, 4)]

    Args:
        widen_factor (float): Network size: 0.5, 1.0, 1.5 or 2.0.
            Defaults to 1.0.
        stage_blocks (Sequence[int]): Units per stage, the down-sampling
            unit included. Defaults to ``(4, 8, 4)``.
        out_indices (int | Sequence[int]): Maps to return, in this order:
            0, 1, 2 are the three stages, 3 is the final 1x1 convolution;
            negative values count from the end. Defaults to ``(3, )``.
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default initialization, as in the
            benchmark code).

    Attributes:
        stage_channels (tuple[int]): Output channels of the three stages
            and of the final convolution.
    """

    arch_settings: Dict[float, Tuple[int, int, int, int]] = {
        0.5: (48, 96, 192, 1024),
        1.0: (116, 232, 464, 1024),
        1.5: (176, 352, 704, 1024),
        2.0: (244, 488, 976, 2048),
    }
    stem_channels = 24

    def __init__(self,
                 widen_factor: float = 1.0,
                 stage_blocks: Sequence[int] = (4, 8, 4),
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        widen_factor = float(widen_factor)
        self.stage_channels = preset(self.arch_settings, widen_factor,
                                     'widen_factor')
        self.stage_blocks = check_stage_blocks(stage_blocks, 3)
        self.widen_factor = widen_factor
        self.out_indices = check_out_indices(out_indices, 4)

        self.add_stem(self.stem_channels, 1, norm_cfg)
        in_channels = self.stem_channels
        for i, num_units in enumerate(self.stage_blocks):
            channels = self.stage_channels[i]
            units: List[nn.Module] = [
                ShuffleV2DownUnit(in_channels, channels, norm_cfg=norm_cfg)
            ]
            units += [
                ShuffleV2Unit(channels, norm_cfg=norm_cfg)
                for _ in range(num_units - 1)
            ]
            self.add_stage(units)
            in_channels = channels
        last = self.stage_channels[3]
        self.conv5 = conv_norm_act(in_channels, last, 1, norm_cfg)

    def after_stages(self, maps: List[Tensor]) -> List[Tensor]:
        """Appends the final 1x1 convolution's map (after its ReLU).

        Args:
            maps (list[Tensor]): The three stage maps (stride
                ``2 ** (i + 1)``).

        Returns:
            list[Tensor]: The stage maps and the final map, index 3.
        """
        return maps + [self.conv5(maps[-1])]
