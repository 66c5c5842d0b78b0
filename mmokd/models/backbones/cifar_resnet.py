"""ResNet for 32x32 inputs, as used in the CIFAR-100 distillation benchmark.

He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
Sec. 4.2 (the CIFAR-10 family of depth ``6n + 2``), with the widened
``resnet8x4`` / ``resnet32x4`` of the CRD benchmark (Tian et al.,
"Contrastive Representation Distillation", ICLR 2020).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS
from .cifar_utils import (KAIMING_INIT, StagedBackbone, check_out_indices,
                          norm_layer, preset)


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
        self.bn1 = norm_layer(norm_cfg, out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = norm_layer(norm_cfg, out_channels)
        self.relu2 = nn.ReLU()
        self.downsample: Optional[nn.Module] = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(
                    in_channels, out_channels, 1, stride=stride, bias=False),
                norm_layer(norm_cfg, out_channels))

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
class CIFARResNet(StagedBackbone):
    """ResNet of depth ``6n + 2`` for 32x32 inputs.

    He et al., "Deep Residual Learning for Image Recognition", CVPR 2016
    (Sec. 4.2, CIFAR-10 networks); the widened ``resnet8x4`` and
    ``resnet32x4`` follow the CIFAR-100 benchmark of Tian et al.,
    "Contrastive Representation Distillation", ICLR 2020, also used by
    the ADM paper (ICML 2025).

    Layout: a 3x3 stem convolution (stride 1) with BN and ReLU, then three
    stages of ``n = (depth - 2) / 6`` basic blocks each; the first block
    of stages 2 and 3 has stride 2. A 32x32 input gives stage maps of
    32x32, 16x16 and 8x8 (stride ``2 ** i``), each returned after the
    stage's last ReLU. Classification adds global average pooling and
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
            preset_depth, preset_stem, preset_stages = preset(
                self.arch_settings, arch, 'arch')
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
        self.out_indices = check_out_indices(out_indices, 3)

        self.add_stem(stem_channels, 3, norm_cfg)
        self.add_residual_stages(
            CIFARBasicBlock,
            stem_channels,
            stage_channels, (self.num_blocks, ) * 3, (1, 2, 2),
            norm_cfg=norm_cfg)
