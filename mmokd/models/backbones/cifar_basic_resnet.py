"""Four-stage BasicBlock ResNets with a 3x3 stride-1 stem, the networks of
MC-Distil's experiments (Tambat et al., TMLR 2025)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmokd.registry import MODELS
from .cifar_resnet import CIFARBasicBlock
from .cifar_utils import (KAIMING_INIT, StagedBackbone, check_out_indices,
                          preset)

_WIDE = (64, 128, 256, 512)


@MODELS.register_module()
class CIFARBasicResNet(StagedBackbone):
    """ResNet-10/18/34 for small images, and the thin ResNet-10 family.

    He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
    with the CIFAR stem of the common CIFAR re-implementations: a 3x3
    convolution at stride 1 with BN and ReLU, then four stages of basic
    blocks (the first block of stages 2-4 at stride 2, 1x1-projection
    shortcuts). MC-Distil (Tambat et al., TMLR 2025; reference
    ``mc_distil/models/base.py``) uses the ``resnet10_*`` sizes as its
    students and its C-Net trunk (``resnet10_s``). Stages 0-3 have strides
    1, 2, 4 and 8 and end with a ReLU; a 32x32 input gives a 4x4 final
    map; with mmpretrain's ``GlobalAveragePooling`` neck any
    input size works (64x64 TinyImageNet).

    ============== ================== ============
    arch           stage channels     blocks
    ============== ================== ============
    resnet10_xxxs  4, 8, 8, 16        1, 1, 1, 1
    resnet10_xxs   8, 8, 16, 16       1, 1, 1, 1
    resnet10_xs    8, 16, 16, 32      1, 1, 1, 1
    resnet10_s     8, 16, 32, 64      1, 1, 1, 1
    resnet10_m     16, 32, 64, 128    1, 1, 1, 1
    resnet10_l     32, 64, 128, 256   1, 1, 1, 1
    resnet10       64, 128, 256, 512  1, 1, 1, 1
    resnet18       64, 128, 256, 512  2, 2, 2, 2
    resnet34       64, 128, 256, 512  3, 4, 6, 3
    ============== ================== ============

    The stem has the first stage's width.

    Example:
        >>> import torch
        >>> model = CIFARBasicResNet(arch='resnet10_s')
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 64, 4, 4)]

    Args:
        arch (str, optional): A preset name from the table. Defaults to
            None (then ``stage_channels`` is required).
        stage_channels (Sequence[int], optional): Four stage widths;
            override the preset's.
        num_blocks (Sequence[int], optional): Blocks per stage; override
            the preset's. Defaults to one per stage without a preset.
        out_indices (int | Sequence[int]): Stages (0-3) whose output maps
            are returned; negative values count from the end. Defaults to
            ``(3, )``, the map before global pooling.
        norm_cfg (dict): Normalization layer config. Defaults to
            ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to Kaiming-normal (fan-out) convolutions and unit BN
            scales.

    Attributes:
        stage_channels (tuple[int]): Output channels of every stage.
    """

    arch_settings: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...]]] = {
        'resnet10_xxxs': ((4, 8, 8, 16), (1, 1, 1, 1)),
        'resnet10_xxs': ((8, 8, 16, 16), (1, 1, 1, 1)),
        'resnet10_xs': ((8, 16, 16, 32), (1, 1, 1, 1)),
        'resnet10_s': ((8, 16, 32, 64), (1, 1, 1, 1)),
        'resnet10_m': ((16, 32, 64, 128), (1, 1, 1, 1)),
        'resnet10_l': ((32, 64, 128, 256), (1, 1, 1, 1)),
        'resnet10': (_WIDE, (1, 1, 1, 1)),
        'resnet18': (_WIDE, (2, 2, 2, 2)),
        'resnet34': (_WIDE, (3, 4, 6, 3)),
    }

    def __init__(
            self,
            arch: Optional[str] = None,
            stage_channels: Optional[Sequence[int]] = None,
            num_blocks: Optional[Sequence[int]] = None,
            out_indices: Union[int, Sequence[int]] = (3, ),
            norm_cfg: dict = dict(type='BN'),
            init_cfg: Optional[Union[dict,
                                     List[dict]]] = KAIMING_INIT) -> None:
        super().__init__(init_cfg=init_cfg)
        preset_channels, preset_blocks = None, (1, 1, 1, 1)
        if arch is not None:
            preset_channels, preset_blocks = preset(self.arch_settings, arch,
                                                    'arch')
        stage_channels = tuple(stage_channels or preset_channels or ())
        num_blocks = tuple(num_blocks or preset_blocks)
        if len(stage_channels) != 4 or len(num_blocks) != 4 or \
                min(num_blocks) < 1:
            raise ValueError('CIFARBasicResNet needs four stage widths and '
                             'four block counts >= 1 (or an arch), got '
                             f'{stage_channels} and {num_blocks}')
        self.arch = arch
        self.stage_channels = stage_channels
        self.num_blocks = num_blocks
        self.out_indices = check_out_indices(out_indices, 4)

        self.add_stem(stage_channels[0], 3, norm_cfg)
        self.add_residual_stages(
            CIFARBasicBlock,
            stage_channels[0],
            stage_channels,
            num_blocks, (1, 2, 2, 2),
            norm_cfg=norm_cfg)
