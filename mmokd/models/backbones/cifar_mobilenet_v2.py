"""MobileNetV2 for 32x32 inputs."""
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS
from .cifar_utils import (KAIMING_INIT, StagedBackbone, check_out_indices,
                          conv_norm_act, residual_blocks)


class InvertedResidual(BaseModule):
    """Inverted residual: 1x1 expand, 3x3 depthwise, linear 1x1 project.

    ``1x1 conv-BN-ReLU`` to ``in_channels * expand_ratio`` channels,
    ``3x3 depthwise conv-BN-ReLU`` (stride ``stride``), then a linear
    ``1x1 conv-BN`` to ``out_channels``; the input is added when the
    stride is 1 and the width is kept. The expansion convolution is
    present even for ``expand_ratio == 1``, as in the benchmark model.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the depthwise convolution, 1 or 2.
        expand_ratio (int): Expansion factor ``t``.
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int,
                 expand_ratio: int,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        hidden = in_channels * expand_ratio
        self.use_residual = stride == 1 and in_channels == out_channels
        self.conv = nn.Sequential(
            conv_norm_act(in_channels, hidden, 1, norm_cfg),
            conv_norm_act(
                hidden, hidden, 3, norm_cfg, stride=stride, groups=hidden),
            conv_norm_act(hidden, out_channels, 1, norm_cfg, act=False))

    def forward(self, x: Tensor) -> Tensor:
        """Applies the block.

        Args:
            x (Tensor): Input of shape (N, C_in, H, W).

        Returns:
            Tensor: Output of shape (N, C_out, H / stride, W / stride).
        """
        out = self.conv(x)
        return out + x if self.use_residual else out


@MODELS.register_module()
class CIFARMobileNetV2(StagedBackbone):
    """MobileNetV2 for CIFAR (the benchmark's width-0.5 student).

    Sandler et al., "MobileNetV2: Inverted Residuals and Linear
    Bottlenecks", CVPR 2018. MobileNetV2 with ``width_mult=0.5`` and
    expansion ``T=6`` is a CIFAR-100 student of the distillation benchmark
    of Tian et al., "Contrastive Representation Distillation", ICLR 2020
    (after Jin et al., "Knowledge Distillation via Route Constrained
    Optimization", ICCV 2019), also used by the ADM paper (ICML 2025).

    Layout (paper, Table 2, with the benchmark's CIFAR changes): a 3x3
    stride-2 stem convolution to ``32 * width_mult`` channels; seven
    stages of inverted residual blocks given as (t, c, n, s):
    (1, 16, 1, 1), (T, 24, 2, 1), (T, 32, 3, 2), (T, 64, 4, 2),
    (T, 96, 3, 1), (T, 160, 3, 2), (T, 320, 1, 1), widths ``int(c *
    width_mult)``; then a 1x1 conv-BN-ReLU to 1280 channels (``int(1280 *
    width_mult)`` when ``width_mult > 1``). The CIFAR change is stride 1
    instead of 2 in the second stage, so a 32x32 input ends at 2x2.

    ``out_channels`` is 1280 for every ``width_mult <= 1`` (x0.5: 1280).

    Example:
        >>> import torch
        >>> model = CIFARMobileNetV2(width_mult=0.5, expand_ratio=6)
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 1280, 2, 2)]

    Args:
        width_mult (float): Width multiplier. Defaults to 0.5.
        expand_ratio (int): Expansion factor ``T`` of stages 1-6.
            Defaults to 6.
        out_indices (int | Sequence[int]): Maps to return, in this order:
            0-6 are the seven stages, 7 is the final 1x1 convolution;
            negative values count from the end. Defaults to ``(7, )``.
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to Kaiming-normal (fan-out) convolutions and unit
            BN scales, as in the benchmark code.

    Attributes:
        stage_channels (tuple[int]): Output channels of the seven stages
            and of the final convolution.
    """

    # (expansion, channels, blocks, stride); None: use ``expand_ratio``.
    block_settings: Tuple[Tuple[Optional[int], int, int, int], ...] = (
        (1, 16, 1, 1),
        (None, 24, 2, 1),
        (None, 32, 3, 2),
        (None, 64, 4, 2),
        (None, 96, 3, 1),
        (None, 160, 3, 2),
        (None, 320, 1, 1),
    )

    def __init__(
            self,
            width_mult: float = 0.5,
            expand_ratio: int = 6,
            out_indices: Union[int, Sequence[int]] = (7, ),
            norm_cfg: dict = dict(type='BN'),
            init_cfg: Optional[Union[dict,
                                     List[dict]]] = KAIMING_INIT) -> None:
        super().__init__(init_cfg=init_cfg)
        if width_mult <= 0 or expand_ratio < 1:
            raise ValueError('width_mult must be > 0 and expand_ratio >= 1')
        self.width_mult = width_mult
        self.expand_ratio = expand_ratio
        num_outs = len(self.block_settings) + 1
        self.out_indices = check_out_indices(out_indices, num_outs)

        in_channels = int(32 * width_mult)
        self.conv1 = conv_norm_act(3, in_channels, 3, norm_cfg, stride=2)
        stage_channels = []
        for t, c, n, s in self.block_settings:
            channels = int(c * width_mult)
            self.add_stage(
                residual_blocks(
                    InvertedResidual,
                    in_channels,
                    channels,
                    n,
                    s,
                    expand_ratio=expand_ratio if t is None else t,
                    norm_cfg=norm_cfg))
            stage_channels.append(channels)
            in_channels = channels
        last = int(1280 * width_mult) if width_mult > 1.0 else 1280
        self.conv2 = conv_norm_act(in_channels, last, 1, norm_cfg)
        stage_channels.append(last)
        self.stage_channels = tuple(stage_channels)

    def stem(self, x: Tensor) -> Tensor:
        """Applies the stride-2 stem convolution (with BN and ReLU).

        Args:
            x (Tensor): Images of shape (N, 3, H, W).

        Returns:
            Tensor: The stem's map, at half the input size.
        """
        return self.conv1(x)

    def after_stages(self, maps: List[Tensor]) -> List[Tensor]:
        """Appends the final 1x1 convolution's map (after its ReLU; 2x2
        for a 32x32 input).

        Args:
            maps (list[Tensor]): The seven stage maps.

        Returns:
            list[Tensor]: The stage maps and the final map, index 7.
        """
        return maps + [self.conv2(maps[-1])]
