"""The memory layout of an image batch for a forward without a graph."""
import torch
from torch import Tensor


def graph_free_layout(inputs: Tensor) -> Tensor:
    """``inputs`` in the layout a forward without a graph runs fastest in
    on its device: channels-last for a 4-d batch on the CPU, else as is.

    On the CPU, oneDNN's convolutions and torch's pooling are faster on
    channels-last maps than on NCHW ones (max-pooling a 32x64x112x112
    batch: 0.05-0.15 s against 0.31-0.36 s on one thread; a ResNet-34
    eval forward at 32x3x224x224: 1.84-2.07 s against 2.31-2.85 s;
    docs/benchmarks.md, "MC-Distil against DML", "Time (batch 32)"),
    and the layout propagates through the network from its input. Only
    for forwards without a graph: torch 2.14.1's CPU backward of
    channels-last maps crashes (a 1x1 stride-2 convolution's, e.g. from
    8 to 16 channels on a 1x8x64x64 map). Values equal NCHW's up to
    float rounding (6e-8 on those logits). Other devices keep their
    layout: it was not measured there.

    Args:
        inputs (Tensor): A batch, ``(B, C, H, W)`` for images.

    Returns:
        Tensor: ``inputs`` in channels-last on the CPU, else ``inputs``.
    """
    if inputs.device.type == 'cpu' and inputs.dim() == 4:
        return inputs.contiguous(memory_format=torch.channels_last)
    return inputs
