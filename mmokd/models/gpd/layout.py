"""Channel layouts of widened tensors and the GPD tiling rules.

Guo et al., GPD (ICLR 2025), Sec. 3.2.
The dynamic teacher (DT) keeps each widened activation as ``r`` copies of
the student's activation at ``1/r`` scale: ``h_D = cat([h / r] * r, 1)``.
A *layout* describes the channel dim of a (student-sized) tensor:

* ``None``: not widened (image, logits, head features);
* a tuple of segments ``((channels, widened), ...)``: the DT tensor is the
  concatenation of the segments, a widened segment of ``c`` student
  channels holding ``r * c`` DT channels. A plain widened tensor is
  ``((C, True),)``; ``torch.cat([x_widened, y_plain], 1)`` (PSPHead) gives
  ``((C_x, True), (C_y, False))``.

A weight is *out-expanded* when its output is widened and is then stored as
``r`` row blocks ``W / r`` (dense) or ``W`` (grouped); its input columns
follow the input layout (a widened segment is tiled ``r`` times).
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

Layout = Optional[Tuple[Tuple[int, bool], ...]]


def widened(channels: int) -> Layout:
    """The layout of a fully widened tensor of ``channels`` student
    channels."""
    return ((channels, True), )


def is_prefix(layout: Layout) -> bool:
    """Whether the student's channels are the DT's first channels."""
    return layout is not None and len(layout) == 1 and layout[0][1]


def is_widened(layout: Layout) -> bool:
    """Whether any channel of the tensor is widened."""
    return layout is not None and any(w for _, w in layout)


def tile(x: Tensor, ratio: int, dim: int) -> Tensor:
    """``cat([x] * ratio, dim)``."""
    return torch.cat([x] * ratio, dim)


def student_columns(layout: Layout, ratio: int) -> Tensor:
    """Indices of the student's channels inside the DT tensor.

    Args:
        layout (Layout): A widened layout.
        ratio (int): Expansion ratio ``r``.

    Returns:
        Tensor: ``LongTensor`` with one index per student channel: the first
        copy of each widened segment, every channel of a plain one.
    """
    index, offset = [], 0
    for channels, wide in layout:
        index.append(torch.arange(offset, offset + channels))
        offset += ratio * channels if wide else channels
    return torch.cat(index)


def tile_columns(weight: Tensor, layout: Layout, ratio: int) -> Tensor:
    """Tiles the widened segments of dim 1 of ``weight`` ``ratio`` times.

    Args:
        weight (Tensor): Student weight ``[O, I, ...]``.
        layout (Layout): Layout of the input, ``None`` for plain.
        ratio (int): Expansion ratio ``r``.

    Returns:
        Tensor: ``[O, I_D, ...]``: no division, since each DT input copy
        is at ``1/r`` scale and the ``r`` copies sum back to ``W x``.
    """
    if layout is None:
        return weight
    parts, start = [], 0
    for channels, wide in layout:
        part = weight[:, start:start + channels]
        parts.append(tile(part, ratio, 1) if wide else part)
        start += channels
    return torch.cat(parts, 1)


def expand_dense_weight(weight: Tensor, ratio: int, in_layout: Layout,
                        out_expanded: bool) -> Tensor:
    """IR of a dense (groups=1) conv/linear weight (reference Sec. 1.4).

    Out-expanded: ``r x r`` blocks ``W / r`` (stem: ``r`` blocks ``W / r``);
    only in-expanded (classifier, head input): ``tile(W, 1)``, no division.

    Args:
        weight (Tensor): Student weight ``[O, I, ...]``.
        ratio (int): Expansion ratio ``r``.
        in_layout (Layout): Input layout.
        out_expanded (bool): Whether the output is widened.

    Returns:
        Tensor: The DT-sized weight.
    """
    weight = tile_columns(weight, in_layout, ratio)
    if out_expanded:
        weight = tile(weight / ratio, ratio, 0)
    return weight
