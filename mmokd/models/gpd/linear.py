"""GPD linear layer: the student and the dynamic teacher share one matrix.

Guo et al., GPD (ICLR 2025), Sec. 3.2:
an internal linear layer reads ``r * P[:O, :I]`` as the student; the
classifier (output boundary, ``g = 1``) reads ``P[:, :I]`` without a factor
and its DT computes ``sum_j W (f / r) + b = W f + b``: identical logits
after Inverse Reparameterization.
"""
import torch.nn.functional as F
from torch import Tensor, nn

from .layout import Layout
from .weighted_op import GPDWeightedOp


class GPDLinear(GPDWeightedOp):
    """An ``nn.Linear`` whose parameters are the DT-sized store.

    Args:
        linear (nn.Linear): The student's layer.
        ratio (int): Expansion ratio ``r``.
        in_layout (Layout): Layout of the input features.
        out_expanded (bool): Whether the output is widened.
    """

    def __init__(self, linear: nn.Linear, ratio: int, in_layout: Layout,
                 out_expanded: bool) -> None:
        super().__init__(linear.weight, linear.bias, ratio, in_layout,
                         out_expanded)

    def forward(self, x: Tensor) -> Tensor:
        """Runs the student's or the DT's linear map (see the mode)."""
        bias = None if self.bias is None else self.view(self.bias)
        return F.linear(x, self.current_weight(), bias)
