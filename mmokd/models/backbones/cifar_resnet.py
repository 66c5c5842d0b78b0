"""ResNet for 32x32 inputs, as used in the CIFAR-100 distillation benchmark.

He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
Sec. 4.2 (the CIFAR-10 family of depth ``6n + 2``), with the widened
``resnet8x4`` / ``resnet32x4`` of the CRD benchmark (Tian et al.,
"Contrastive Representation Distillation", ICLR 2020).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS


def _norm(norm_cfg: dict, num_features: int) -> nn.Module:
    """Builds one normalization layer of ``num_features`` channels."""
    return build_norm_layer(norm_cfg, num_features)[1]


def _conv_norm_act(in_channels: int,
                   out_channels: int,
                   kernel_size: int,
                   norm_cfg: dict,
                   stride: int = 1,
                   groups: int = 1,
                   act: bool = True) -> nn.Sequential:
    """A bias-free ``kernel_size`` convolution, normalization and ReLU.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Odd kernel size; padding keeps the size at
            stride 1.
        norm_cfg (dict): Normalization layer config.
        stride (int): Convolution stride. Defaults to 1.
        groups (int): Convolution groups. Defaults to 1.
        act (bool): Whether a ReLU follows. Defaults to True.

    Returns:
        nn.Sequential: ``conv``, ``norm`` (and ``ReLU``), indexed 0-2.
    """
    layers = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=False),
        _norm(norm_cfg, out_channels)
    ]
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _out_channels(channels: Sequence[int],
                  out_indices: Sequence[int]) -> Union[int, List[int]]:
    """Channels of the returned maps: an int for one map, else a list.

    Args:
        channels (Sequence[int]): Channels of every returnable map.
        out_indices (Sequence[int]): Checked indices of the returned maps.

    Returns:
        int | list[int]: The channels of the returned maps.
    """
    outs = [channels[i] for i in out_indices]
    return outs[0] if len(outs) == 1 else outs


# Kaiming (fan-out) convolutions and unit norm weights: the default
# initialisation of every backbone in this package.
KAIMING_INIT = [
    dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


def _check_out_indices(out_indices: Union[int, Sequence[int]],
                       num_stages: int) -> Tuple[int, ...]:
    """Normalizes ``out_indices`` to non-negative, checked stage indices.

    Args:
        out_indices (int | Sequence[int]): Stage indices; negative ones
            count from the end.
        num_stages (int): The number of stages that can be returned.

    Returns:
        tuple[int]: The indices in ``[0, num_stages)``, in the given order.
    """
    if isinstance(out_indices, int):
        out_indices = (out_indices, )
    checked = []
    for index in out_indices:
        if not -num_stages <= index < num_stages:
            raise ValueError(f'out_indices entry {index} is out of range '
                             f'for {num_stages} stages')
        checked.append(index % num_stages)
    if not checked:
        raise ValueError('out_indices must not be empty')
    return tuple(checked)


class CIFARBasicBlock(BaseModule):
    """Two 3x3 convolutions with an identity or 1x1-projection shortcut.

    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``; the shortcut
    is a strided 1x1 convolution with normalization when the stride or the
    width changes (option B of He et al.), the identity otherwise.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the first convolution. Defaults to 1.
        norm_cfg (dict): Normalization layer config.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _norm(norm_cfg, out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = _norm(norm_cfg, out_channels)
        self.relu2 = nn.ReLU()
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(
                    in_channels, out_channels, 1, stride=stride, bias=False),
                _norm(norm_cfg, out_channels))

    def forward(self, x: Tensor) -> Tensor:
        """Applies the block.

        Args:
            x (Tensor): Input of shape (N, C_in, H, W).

        Returns:
            Tensor: Output of shape (N, C_out, H / stride, W / stride).
        """
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + identity)


@MODELS.register_module()
class CIFARResNet(BaseModule):
    """ResNet of depth ``6n + 2`` for 32x32 inputs.

    He et al., "Deep Residual Learning for Image Recognition", CVPR 2016
    (Sec. 4.2, CIFAR-10 networks); the widened ``resnet8x4`` and
    ``resnet32x4`` follow the CIFAR-100 benchmark of Tian et al.,
    "Contrastive Representation Distillation", ICLR 2020, also used by
    the ADM paper (ICML 2025).

    Layout: a 3x3 stem convolution (stride 1) with BN and ReLU, then three
    stages of ``n = (depth - 2) / 6`` basic blocks each; the first block
    of stages 2 and 3 has stride 2. A 32x32 input gives stage maps of
    32x32, 16x16 and 8x8. Classification adds global average pooling and
    a linear layer (e.g. mmpretrain's ``GlobalAveragePooling`` neck and
    ``LinearClsHead``).

    Presets (``arch``), as (depth, stem channels, stage channels):

    ========== ===== ==== ============== ==================
    arch       depth stem stages         ``out_channels``
    ========== ===== ==== ============== ==================
    resnet8    8     16   (16, 32, 64)   64
    resnet14   14    16   (16, 32, 64)   64
    resnet20   20    16   (16, 32, 64)   64
    resnet32   32    16   (16, 32, 64)   64
    resnet44   44    16   (16, 32, 64)   64
    resnet56   56    16   (16, 32, 64)   64
    resnet110  110   16   (16, 32, 64)   64
    resnet8x4  8     32   (64, 128, 256) 256
    resnet32x4 32    32   (64, 128, 256) 256
    ========== ===== ==== ============== ==================

    Example:
        >>> import torch
        >>> model = CIFARResNet(arch='resnet8x4')
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 256, 8, 8)]

    Args:
        arch (str, optional): A preset name from the table above. Defaults
            to None (then ``depth`` is required).
        depth (int, optional): Total depth ``6n + 2``; overrides the
            preset's depth. Defaults to None.
        stem_channels (int, optional): Stem width; overrides the preset's.
            Defaults to None (16 without a preset).
        stage_channels (Sequence[int], optional): The three stage widths;
            override the preset's. Defaults to None ((16, 32, 64) without
            a preset).
        out_indices (int | Sequence[int]): Stages (0, 1, 2) whose output
            maps are returned, in this order; negative values count from
            the end. Defaults to ``(2, )``, the last stage: the feature map
            right before global pooling.
        norm_cfg (dict): Normalization layer config, e.g.
            ``dict(type='SyncBN')``. Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to Kaiming-normal (fan-out) convolutions and unit
            BN scales, as in the benchmark code.

    Attributes:
        out_channels (int | list[int]): Channels of the returned maps: an
            int for one output index, a list matching ``out_indices``
            otherwise.
        stage_channels (tuple[int]): Output channels of every stage.
    """

    arch_settings: Dict[str, Tuple[int, int, Tuple[int, int, int]]] = {
        'resnet8': (8, 16, (16, 32, 64)),
        'resnet14': (14, 16, (16, 32, 64)),
        'resnet20': (20, 16, (16, 32, 64)),
        'resnet32': (32, 16, (16, 32, 64)),
        'resnet44': (44, 16, (16, 32, 64)),
        'resnet56': (56, 16, (16, 32, 64)),
        'resnet110': (110, 16, (16, 32, 64)),
        'resnet8x4': (8, 32, (64, 128, 256)),
        'resnet32x4': (32, 32, (64, 128, 256)),
    }

    def __init__(
            self,
            arch: Optional[str] = None,
            depth: Optional[int] = None,
            stem_channels: Optional[int] = None,
            stage_channels: Optional[Sequence[int]] = None,
            out_indices: Union[int, Sequence[int]] = (2, ),
            norm_cfg: dict = dict(type='BN'),
            init_cfg: Optional[Union[dict,
                                     List[dict]]] = KAIMING_INIT) -> None:
        super().__init__(init_cfg=init_cfg)
        preset_depth, preset_stem, preset_stages = None, 16, (16, 32, 64)
        if arch is not None:
            if arch not in self.arch_settings:
                raise KeyError(f'Unknown arch {arch!r}; choose one of '
                               f'{sorted(self.arch_settings)}')
            preset_depth, preset_stem, preset_stages = \
                self.arch_settings[arch]
        depth = preset_depth if depth is None else depth
        if depth is None:
            raise ValueError('Give either arch or depth')
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f'depth must be 6n + 2 with n >= 1, got {depth}')
        stem_channels = preset_stem if stem_channels is None \
            else stem_channels
        stage_channels = tuple(preset_stages if stage_channels is
                               None else stage_channels)
        if len(stage_channels) != 3:
            raise ValueError('stage_channels needs three widths, got '
                             f'{stage_channels}')

        self.arch = arch
        self.depth = depth
        self.num_blocks = (depth - 2) // 6
        self.stem_channels = stem_channels
        self.stage_channels = stage_channels
        self.out_indices = _check_out_indices(out_indices, 3)

        self.conv1 = nn.Conv2d(3, stem_channels, 3, padding=1, bias=False)
        self.bn1 = _norm(norm_cfg, stem_channels)
        self.relu = nn.ReLU()
        self.layer_names = []
        in_channels = stem_channels
        for i, channels in enumerate(stage_channels):
            blocks = [
                CIFARBasicBlock(
                    in_channels if j == 0 else channels,
                    channels,
                    stride=2 if (i > 0 and j == 0) else 1,
                    norm_cfg=norm_cfg) for j in range(self.num_blocks)
            ]
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*blocks))
            self.layer_names.append(name)
            in_channels = channels

        self.out_channels = _out_channels(stage_channels, self.out_indices)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Computes the requested stage maps.

        Args:
            x (Tensor): Images of shape (N, 3, H, W), e.g. 32x32.

        Returns:
            tuple[Tensor]: One map per entry of ``out_indices``; stage
            ``i`` has ``stage_channels[i]`` channels and stride
            ``2 ** i``. Each is the stage's output after its last ReLU.
        """
        x = self.relu(self.bn1(self.conv1(x)))
        outs = {}
        for i, name in enumerate(self.layer_names):
            x = getattr(self, name)(x)
            outs[i] = x
        return tuple(outs[i] for i in self.out_indices)
