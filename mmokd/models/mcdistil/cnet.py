"""MC-Distil's coordinator network (C-Net), which weights every
student's loss per item (Tambat et al., TMLR 2025)."""
from typing import Optional, Sequence

import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmokd.registry import MODELS
from ..backbones import CIFARBasicResNet
from ..utils import check_flag, check_integer, field_of

CNET_WEIGHT_SOURCES = ('feature', 'head')


@MODELS.register_module()
class MCDistilCNet(BaseModule):
    """The C-Net ``g_phi``: an image batch in, ``2k`` non-negative weights
    per item out, ``[alpha_0, beta_0, alpha_1, beta_1, ...]``.

    Tambat, S, Ramakrishnan, Shenoy, "Unified Wisdom: Harnessing
    Collaborative Learning to Improve Efficacy of Knowledge Distillation",
    TMLR 2025, Sec. 3. The trunk is ResNet10_s (a 3x3 stem at stride 1,
    one BasicBlock per stage, strides 1/2/2/2, widths ``planes``), run on
    the students' training batch; student ``i`` weights its CE by channel
    ``2i`` and its KD term by channel ``2i + 1``.

    * ``weight_source='feature'`` (the reference code,
      ``train_mcdistil.py``: ``hyperparams, _, _ = meta_net(inputs)`` is
      the pooled feature, not the logits): the first ``2k`` channels of
      the final post-ReLU map, so ``w >= 0`` and unbounded. No head is
      built, so every parameter gets a gradient.
    * ``weight_source='head'`` (a cleaner variant, not the reference): a
      linear layer (a 1x1 convolution when dense) and softplus.

    Pooled (classification): ``(B, 2k)`` from global average pooling, so
    any input size works (the reference's fixed ``avg_pool2d(., 4)`` only
    fits 32x32). Dense (segmentation): ``(B, 2k, H/8, W/8)``, one weight
    per position, resized to a student's logits grid by the loss. The
    C-Net stays in train mode while training: BN uses batch statistics,
    as in the reference. Its ReLUs work in place (no recorder reads its
    maps): its stride-1 maps are large at 224x224, where a new map per
    ReLU makes its forward without a graph 0.83 s instead of 0.76 s
    (batch 32, one CPU thread).

    Config example (five students, the reference)::

        cnet=dict(type='mmokd.MCDistilCNet', num_students=5)

    Args:
        num_students (int): ``k``.
        planes (Sequence[int]): Four stage widths. Defaults to
            ``(8, 16, 32, 64)`` (ResNet10_s).
        dense (bool): One weight per position of the final map instead of
            per image. Defaults to False.
        weight_source (str): ``'feature'`` or ``'head'``. Defaults to
            ``'feature'``.
        norm_cfg (dict): Normalization layer config. Defaults to
            ``dict(type='BN')``.
        init_cfg (dict, optional): Initialization config. Defaults to
            None (the trunk's Kaiming initialisation).
    """

    def __init__(self,
                 num_students: int,
                 planes: Sequence[int] = (8, 16, 32, 64),
                 dense: bool = False,
                 weight_source: str = 'feature',
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_students = check_integer(num_students,
                                          field_of(self, 'num_students'), 1)
        self.dense = check_flag(dense, field_of(self, 'dense'))
        if weight_source not in CNET_WEIGHT_SOURCES:
            raise ValueError(
                f'{field_of(self, "weight_source")} must be one of '
                f'{list(CNET_WEIGHT_SOURCES)}, got {weight_source!r}.')
        self.weight_source = weight_source
        self.num_weights = 2 * num_students
        self.trunk = CIFARBasicResNet(
            stage_channels=planes, num_blocks=(1, 1, 1, 1),
            norm_cfg=norm_cfg)
        for module in self.trunk.modules():
            if isinstance(module, nn.ReLU):
                module.inplace = True
        channels = self.trunk.out_channels
        if weight_source == 'feature' and self.num_weights > channels:
            raise ValueError(
                f'{field_of(self, "num_students")}: {num_students} students '
                f'need {self.num_weights} weights, but the final map has '
                f'{channels} channels (planes {tuple(planes)}); widen the '
                'last of planes or set weight_source="head".')
        self.head: Optional[nn.Module] = None
        if weight_source == 'head':
            self.head = nn.Conv2d(channels, self.num_weights, 1) if dense \
                else nn.Linear(channels, self.num_weights)

    def forward(self, inputs: Tensor) -> Tensor:
        """Computes the weights of a batch.

        Args:
            inputs (Tensor): Preprocessed images ``(B, 3, H, W)``.

        Returns:
            Tensor: ``(B, 2k)``, or ``(B, 2k, H/8, W/8)`` when dense.
        """
        feature = self.trunk(inputs)[0]
        if not self.dense:
            feature = feature.mean(dim=(2, 3))
        if self.head is None:
            return feature[:, :self.num_weights]
        return F.softplus(self.head(feature))
