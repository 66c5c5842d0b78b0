"""VGG with batch normalization for 32x32 inputs (no fully connected)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS
from .cifar_utils import (KAIMING_INIT, check_out_indices, norm_layer,
                          out_channels_of)


@MODELS.register_module()
class CIFARVGG(BaseModule):
    """VGG-``depth`` for CIFAR: five conv stages, no fully connected layers.

    Simonyan & Zisserman, "Very Deep Convolutional Networks for
    Large-Scale Image Recognition", ICLR 2015 (configurations A, B, D, E),
    with batch normalization after every convolution; VGG-8 (one
    convolution per stage) and VGG-13 are the CIFAR-100 models of the
    distillation benchmark of Tian et al., "Contrastive Representation
    Distillation", ICLR 2020, also used by the ADM paper (ICML 2025).

    Every convolution is 3x3 (padding 1, with bias) followed by
    normalization and ReLU. Stages are separated by 2x2 max pooling after
    the stages listed in ``max_pool_stages``; the benchmark pools after
    stages 0, 1 and 2 for 32x32 inputs (stages 3 and 4 both run at 4x4)
    and also after stage 3 for 64x64 inputs. The VGG classifier's three
    fully connected layers are replaced by global average pooling and one
    linear layer (the neck and head), so the backbone output is the
    512-channel map of the last stage after its ReLU.

    Presets (``depth``), as convolutions per stage with widths
    (64, 128, 256, 512, 512):

    ===== ============== ==================
    depth convs / stage  ``out_channels``
    ===== ============== ==================
    8     1, 1, 1, 1, 1  512
    11    1, 1, 2, 2, 2  512
    13    2, 2, 2, 2, 2  512
    16    2, 2, 3, 3, 3  512
    19    2, 2, 4, 4, 4  512
    ===== ============== ==================

    Example:
        >>> import torch
        >>> model = CIFARVGG(depth=13)
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 512, 4, 4)]

    Args:
        depth (int, optional): 8, 11, 13, 16 or 19. Defaults to None.
        arch (str, optional): ``'vgg{depth}'`` (e.g. ``'vgg8'``), an
            alternative to ``depth``. Defaults to None.
        stage_channels (Sequence[Sequence[int]], optional): Custom
            convolution widths per stage, replacing the preset; the
            number of stages may differ from five. Defaults to None.
        max_pool_stages (Sequence[int]): Stages followed by 2x2 max
            pooling. Defaults to ``(0, 1, 2)``.
        out_indices (int | Sequence[int]): Stages whose maps (after the
            stage's last ReLU, before pooling) are returned, in this
            order; negative values count from the end. Defaults to
            ``(-1, )``, the last stage.
        norm_cfg (dict, optional): Normalization layer config; None for
            plain VGG without normalization. Defaults to
            ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to Kaiming-normal (fan-out) convolutions with zero
            bias and unit BN scales, as in the benchmark code.

    Attributes:
        out_channels (int | list[int]): Channels of the returned maps: an
            int for one output index, a list matching ``out_indices``
            otherwise.
        stage_channels (tuple[tuple[int]]): Convolution widths per stage.
    """

    arch_settings: Dict[int, Tuple[int, ...]] = {
        8: (1, 1, 1, 1, 1),
        11: (1, 1, 2, 2, 2),
        13: (2, 2, 2, 2, 2),
        16: (2, 2, 3, 3, 3),
        19: (2, 2, 4, 4, 4),
    }
    widths = (64, 128, 256, 512, 512)

    def __init__(
            self,
            depth: Optional[int] = None,
            arch: Optional[str] = None,
            stage_channels: Optional[Sequence[Sequence[int]]] = None,
            max_pool_stages: Sequence[int] = (0, 1, 2),
            out_indices: Union[int, Sequence[int]] = (-1, ),
            norm_cfg: Optional[dict] = dict(type='BN'),
            init_cfg: Optional[Union[dict,
                                     List[dict]]] = KAIMING_INIT) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch is not None:
            if not arch.startswith('vgg') or not arch[3:].isdigit():
                raise KeyError(f'arch must look like "vgg13", got {arch!r}')
            if depth is not None and depth != int(arch[3:]):
                raise ValueError(f'arch {arch!r} contradicts depth {depth}')
            depth = int(arch[3:])
        if stage_channels is None:
            if depth not in self.arch_settings:
                raise KeyError(f'depth must be one of '
                               f'{sorted(self.arch_settings)}, got {depth}')
            stage_channels = [
                (w, ) * n
                for w, n in zip(self.widths, self.arch_settings[depth])
            ]
        self.stage_channels = tuple(tuple(s) for s in stage_channels)
        if not self.stage_channels or not all(self.stage_channels):
            raise ValueError('every stage needs at least one convolution')
        num_stages = len(self.stage_channels)
        self.depth = depth
        self.max_pool_stages = tuple(s % num_stages for s in max_pool_stages)
        self.out_indices = check_out_indices(out_indices, num_stages)

        self.stage_names = []
        in_channels = 3
        for i, widths in enumerate(self.stage_channels):
            layers: List[nn.Module] = []
            for width in widths:
                layers.append(nn.Conv2d(in_channels, width, 3, padding=1))
                if norm_cfg is not None:
                    layers.append(norm_layer(norm_cfg, width))
                layers.append(nn.ReLU())
                in_channels = width
            name = f'stage{i}'
            self.add_module(name, nn.Sequential(*layers))
            self.stage_names.append(name)
            if i in self.max_pool_stages:
                self.add_module(f'pool{i}', nn.MaxPool2d(2, stride=2))

        self.out_channels = out_channels_of(
            [stage[-1] for stage in self.stage_channels], self.out_indices)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Computes the requested stage maps.

        Args:
            x (Tensor): Images of shape (N, 3, H, W), e.g. 32x32.

        Returns:
            tuple[Tensor]: One map per entry of ``out_indices``, each the
            stage's output after its last ReLU and before pooling.
        """
        outs = {}
        for i, name in enumerate(self.stage_names):
            x = getattr(self, name)(x)
            outs[i] = x
            if i in self.max_pool_stages:
                x = getattr(self, f'pool{i}')(x)
        return tuple(outs[i] for i in self.out_indices)
