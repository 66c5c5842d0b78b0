"""Wrapper that keeps non-homogeneous activations exact in the DT.

Guo et al., GPD (ICLR 2025), Sec. 3.2. The
dynamic teacher's (DT's) activations are the student's at ``1/r`` scale, so
an activation ``f`` that is not positively homogeneous (ReLU6, HSwish,
SiLU, GELU, ...) must run as ``f(r x) / r`` in the DT; e.g. ReLU6 becomes
``clamp(x, 0, 6 / r)``. Without it Inverse Reparameterization is not exact
(torchvision MobileNetV2: logit gap 5.9e-3 instead of ~1e-7). ReLU,
LeakyReLU, pooling and residual additions commute with the scaling and are
left alone.

A *gate* (the sigmoid of a squeeze-and-excitation block, whose output
multiplies a widened activation) runs as ``f(r x)`` without the division:
the gate must be the student's gate, duplicated, so that ``x_D * gate``
stays the student's product at ``1/r`` scale (reference Sec. 5.4).
"""
from torch import Tensor, nn

from .mode import GPDModeMixin

#: Activation types (by class name) that need :class:`GPDActivation`.
NON_HOMOGENEOUS_ACTIVATIONS = ('ReLU6', 'Hardtanh', 'Hardswish', 'Hardsigmoid',
                               'HSwish', 'HSigmoid', 'SiLU', 'Swish', 'GELU',
                               'Sigmoid', 'Tanh', 'ELU', 'SELU', 'CELU',
                               'Softplus', 'Mish')


class GPDActivation(GPDModeMixin, nn.Module):
    """Runs ``act(x)`` as the student and ``act(r x) / r`` as the DT.

    Args:
        act (nn.Module): The student's activation module (kept as child
            ``act``, so the original module path gains ``.act``).
        ratio (int): Expansion ratio ``r``.
        gate (bool): Whether ``act`` is a gate: the DT then computes
            ``act(r x)``.
    """

    def __init__(self, act: nn.Module, ratio: int, gate: bool = False) -> None:
        super().__init__()
        self.act = act
        self.ratio = ratio
        self.gate = gate

    def forward(self, x: Tensor) -> Tensor:
        """Applies the activation at the student's scale."""
        if self.is_student:
            return self.act(x)
        out = self.act(x * self.ratio)
        return out if self.gate else out / self.ratio

    def extra_repr(self) -> str:
        return f'ratio={self.ratio}, gate={self.gate}'
