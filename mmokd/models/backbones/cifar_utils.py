"""Pieces every backbone of this package shares: layer builders, the
default initialisation, ``out_indices`` handling and the stage-by-stage
base class of the CIFAR networks."""
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn

# Kaiming (fan-out) convolutions and unit norm weights: the default
# initialisation of every backbone in this package.
KAIMING_INIT = [
    dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


def norm_layer(norm_cfg: dict, num_features: int) -> nn.Module:
    """Builds one normalization layer of ``num_features`` channels.

    Args:
        norm_cfg (dict): Normalization layer config, e.g.
            ``dict(type='BN')``.
        num_features (int): Channels to normalize.

    Returns:
        nn.Module: The layer.
    """
    return build_norm_layer(norm_cfg, num_features)[1]


def conv_norm_act(in_channels: int,
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
        norm_layer(norm_cfg, out_channels)
    ]
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def preset(settings: Dict[Any, Any], key: Any, field: str) -> Any:
    """Looks up a preset, naming the choices when ``key`` is unknown.

    Args:
        settings (dict): The presets, by key.
        key (Any): The requested preset.
        field (str): The argument that gave ``key``, for the message.

    Returns:
        Any: The preset's settings.
    """
    if key not in settings:
        raise KeyError(f'{field} must be one of {sorted(settings)}, got '
                       f'{key!r}')
    return settings[key]


def check_stage_blocks(stage_blocks: Sequence[int],
                       num_stages: int) -> Tuple[int, ...]:
    """Checks the blocks per stage: ``num_stages`` counts, each >= 1.

    Args:
        stage_blocks (Sequence[int]): Blocks per stage.
        num_stages (int): The number of stages.

    Returns:
        tuple[int]: The counts.
    """
    if len(stage_blocks) != num_stages or min(stage_blocks) < 1:
        raise ValueError(f'stage_blocks needs {num_stages} positive counts, '
                         f'got {stage_blocks}')
    return tuple(stage_blocks)


def check_out_indices(out_indices: Union[int, Sequence[int]],
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


def out_channels_of(channels: Sequence[int],
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


def residual_blocks(block: Callable[..., nn.Module], in_channels: int,
                    channels: int, num_blocks: int, stride: int,
                    **block_kwargs) -> List[nn.Module]:
    """The blocks of one residual stage: the first one changes the width
    and applies the stride, the others keep both.

    Args:
        block (Callable): Builds a block from ``(in_channels,
            out_channels, stride=..., **block_kwargs)``.
        in_channels (int): Input channels of the stage.
        channels (int): Output channels of every block.
        num_blocks (int): Blocks in the stage.
        stride (int): Stride of the first block.
        **block_kwargs: Further arguments of every block.

    Returns:
        list[nn.Module]: The ``num_blocks`` blocks, in order.
    """
    return [
        block(
            in_channels if j == 0 else channels,
            channels,
            stride=stride if j == 0 else 1,
            **block_kwargs) for j in range(num_blocks)
    ]


class StagedBackbone(BaseModule):
    """Base of the CIFAR backbones: a stem, stages run in order, then
    optional layers after the stages.

    Subclasses build the stem (:meth:`add_stem`, or their own with
    :meth:`stem` overridden), add their stages with :meth:`add_stage`
    (named ``layer1``, ``layer2``, ...: the checkpoint key prefixes),
    override :meth:`after_stages` when layers follow the stages, and set
    ``out_indices`` (:func:`check_out_indices`) and ``stage_channels``,
    the channels of every returnable map.

    Args:
        init_cfg (dict | list[dict], optional): Initialization config.

    Attributes:
        layer_names (list[str]): Names of the stages, in order.
    """

    out_indices: Tuple[int, ...]
    stage_channels: Tuple[int, ...]

    def __init__(self, init_cfg: Union[dict, List[dict], None]) -> None:
        super().__init__(init_cfg=init_cfg)
        self.layer_names: List[str] = []

    def add_stem(self, channels: int, kernel_size: int,
                 norm_cfg: dict) -> None:
        """Adds the stem ``conv1`` (bias-free, stride 1), ``bn1`` and
        ``relu`` run by :meth:`stem`.

        Args:
            channels (int): Output channels.
            kernel_size (int): Odd kernel size; padding keeps the size.
            norm_cfg (dict): Normalization layer config.
        """
        self.conv1 = nn.Conv2d(
            3, channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn1 = norm_layer(norm_cfg, channels)
        self.relu = nn.ReLU()

    def stem(self, x: Tensor) -> Tensor:
        """Applies the stem added by :meth:`add_stem`.

        Args:
            x (Tensor): Images of shape (N, 3, H, W).

        Returns:
            Tensor: ``relu(bn1(conv1(x)))``.
        """
        return self.relu(self.bn1(self.conv1(x)))

    def add_stage(self, blocks: Sequence[nn.Module]) -> None:
        """Appends a stage ``layer{i}`` that runs ``blocks`` in order.

        Args:
            blocks (Sequence[nn.Module]): The stage's blocks.
        """
        name = f'layer{len(self.layer_names) + 1}'
        self.add_module(name, nn.Sequential(*blocks))
        self.layer_names.append(name)

    def add_residual_stages(self, block: Callable[..., nn.Module],
                            in_channels: int, stage_channels: Sequence[int],
                            num_blocks: Sequence[int],
                            strides: Sequence[int], **block_kwargs) -> None:
        """Appends one stage of :func:`residual_blocks` per width.

        Args:
            block (Callable): Builds a block, see :func:`residual_blocks`.
            in_channels (int): Input channels of the first stage.
            stage_channels (Sequence[int]): Output channels per stage.
            num_blocks (Sequence[int]): Blocks per stage.
            strides (Sequence[int]): Stride of each stage's first block.
            **block_kwargs: Further arguments of every block.
        """
        for channels, blocks, stride in zip(stage_channels, num_blocks,
                                            strides):
            self.add_stage(
                residual_blocks(block, in_channels, channels, blocks,
                                stride, **block_kwargs))
            in_channels = channels

    def after_stages(self, maps: List[Tensor]) -> List[Tensor]:
        """Turns the stage outputs into the returnable maps; subclasses
        with layers after the stages change or append maps here.

        Args:
            maps (list[Tensor]): Every stage's output, in order.

        Returns:
            list[Tensor]: Every returnable map, in index order (here the
            stage outputs themselves).
        """
        return maps

    @property
    def out_channels(self) -> Union[int, List[int]]:
        """int | list[int]: Channels of the returned maps: an int for one
        output index, a list matching ``out_indices`` otherwise."""
        return out_channels_of(self.stage_channels, self.out_indices)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Computes the requested maps.

        Args:
            x (Tensor): Images of shape (N, 3, H, W), e.g. 32x32.

        Returns:
            tuple[Tensor]: One map per entry of ``out_indices``, in that
            order; index ``i`` has ``stage_channels[i]`` channels.
        """
        x = self.stem(x)
        maps = []
        for name in self.layer_names:
            x = getattr(self, name)(x)
            maps.append(x)
        maps = self.after_stages(maps)
        return tuple(maps[i] for i in self.out_indices)
