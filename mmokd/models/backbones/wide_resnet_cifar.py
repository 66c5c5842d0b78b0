"""Wide residual network (WRN-d-k) for 32x32 inputs."""
import re
from typing import List, Optional, Sequence, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS
from .cifar_utils import (KAIMING_INIT, StagedBackbone, check_out_indices,
                          norm_layer)


class WideBasicBlock(BaseModule):
    """Pre-activation block: BN-ReLU-conv3x3, BN-ReLU-(dropout)-conv3x3.

    The shortcut is the identity when the width and stride are kept;
    otherwise a strided 1x1 convolution applied to the block's first
    activation ``relu(bn1(x))``, as in Zagoruyko & Komodakis.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first convolution. Defaults to 1.
        drop_rate (float): Dropout probability between the convolutions.
            Defaults to 0.
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 drop_rate: float = 0.0,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.bn1 = norm_layer(norm_cfg, in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = norm_layer(norm_cfg, out_channels)
        self.relu2 = nn.ReLU()
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False)
        self.shortcut: Optional[nn.Module] = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Applies the block.

        Args:
            x (Tensor): Input of shape (N, C_in, H, W).

        Returns:
            Tensor: The residual sum (not activated), of shape
            (N, C_out, H / stride, W / stride).
        """
        act = self.relu1(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(act)
        out = self.relu2(self.bn2(self.conv1(act)))
        if self.dropout is not None:
            out = self.dropout(out)
        return self.conv2(out) + identity


@MODELS.register_module()
class CIFARWideResNet(StagedBackbone):
    """Wide residual network WRN-``depth``-``widen_factor`` for CIFAR.

    Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016. WRN-16-2
    and WRN-40-2 are the CIFAR-100 models of the distillation benchmark of
    Tian et al., "Contrastive Representation Distillation", ICLR 2020,
    also used by the ADM paper (ICML 2025).

    Layout: a 3x3 stem convolution to 16 channels, then three stages of
    ``n = (depth - 4) / 6`` pre-activation blocks with ``16k``, ``32k``
    and ``64k`` channels (strides 1, 2, 2), then BN and ReLU. A 32x32
    input gives stage maps of 32x32, 16x16 and 8x8.

    The last stage's map is returned after the final BN and ReLU, i.e.
    the map that global pooling turns into the classifier's input; the
    maps of the first two stages are the raw residual sums (pre-activation
    networks have no ReLU between stages).

    ``out_channels`` is ``64 * widen_factor``: WRN-16-1 / WRN-40-1 -> 64,
    WRN-16-2 / WRN-40-2 -> 128, WRN-28-10 -> 640.

    Example:
        >>> import torch
        >>> model = CIFARWideResNet(depth=16, widen_factor=2)
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 128, 8, 8)]

    Args:
        arch (str, optional): A name ``'wrn_{depth}_{widen_factor}'``,
            e.g. ``'wrn_16_2'`` or ``'wrn_40_2'``. Defaults to None.
        depth (int, optional): Depth ``6n + 4``; overrides ``arch``.
            Defaults to None (required without ``arch``).
        widen_factor (int, optional): Width multiplier ``k``; overrides
            ``arch``. Defaults to None (1 without ``arch``).
        drop_rate (float): Dropout probability inside the blocks.
            Defaults to 0 (the benchmark setting).
        out_indices (int | Sequence[int]): Stages (0, 1, 2) whose maps
            are returned, in this order; negative values count from the
            end. Defaults to ``(2, )``.
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to Kaiming-normal (fan-out) convolutions and unit
            BN scales, as in the benchmark code.

    Attributes:
        stage_channels (tuple[int]): Output channels of every stage.
    """

    stem_channels = 16

    def __init__(
            self,
            arch: Optional[str] = None,
            depth: Optional[int] = None,
            widen_factor: Optional[int] = None,
            drop_rate: float = 0.0,
            out_indices: Union[int, Sequence[int]] = (2, ),
            norm_cfg: dict = dict(type='BN'),
            init_cfg: Optional[Union[dict,
                                     List[dict]]] = KAIMING_INIT) -> None:
        super().__init__(init_cfg=init_cfg)
        preset_depth, preset_widen = None, 1
        if arch is not None:
            match = re.fullmatch(r'wrn_(\d+)_(\d+)', arch)
            if match is None:
                raise KeyError(f'arch must look like "wrn_16_2", got {arch!r}')
            preset_depth, preset_widen = int(match[1]), int(match[2])
        depth = preset_depth if depth is None else depth
        widen_factor = preset_widen if widen_factor is None else widen_factor
        if depth is None:
            raise ValueError('Give either arch or depth')
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(f'depth must be 6n + 4 with n >= 1, got {depth}')
        if widen_factor < 1:
            raise ValueError(f'widen_factor must be >= 1, got {widen_factor}')

        self.arch = arch
        self.depth = depth
        self.widen_factor = widen_factor
        self.num_blocks = (depth - 4) // 6
        self.stage_channels = tuple(c * widen_factor for c in (16, 32, 64))
        self.out_indices = check_out_indices(out_indices, 3)

        self.conv1 = nn.Conv2d(3, self.stem_channels, 3, padding=1, bias=False)
        self.add_residual_stages(
            WideBasicBlock,
            self.stem_channels,
            self.stage_channels, (self.num_blocks, ) * 3, (1, 2, 2),
            drop_rate=drop_rate,
            norm_cfg=norm_cfg)
        self.bn_final = norm_layer(norm_cfg, self.stage_channels[-1])
        self.relu_final = nn.ReLU()

    def stem(self, x: Tensor) -> Tensor:
        """Applies the stem convolution (pre-activation: no BN or ReLU).

        Args:
            x (Tensor): Images of shape (N, 3, H, W).

        Returns:
            Tensor: The stem's 16-channel map.
        """
        return self.conv1(x)

    def after_stages(self, maps: List[Tensor]) -> List[Tensor]:
        """Applies the final BN and ReLU to the last stage's map.

        Args:
            maps (list[Tensor]): The three residual sums (stride
                ``2 ** i``).

        Returns:
            list[Tensor]: The first two sums and the activated last map.
        """
        return maps[:-1] + [self.relu_final(self.bn_final(maps[-1]))]
