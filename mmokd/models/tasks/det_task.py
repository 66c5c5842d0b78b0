"""Object detection (mmdet 3.x dense heads) as an online distillation
task."""
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn

from mmokd.registry import TASKS
from .base_task import BaseTask


class DenseHeadRecord(NamedTuple):
    """What a detection term reads of one peer's dense head in one step
    (recorded by ``mmokd.DenseHeadRecorder``).

    Attributes:
        cls_scores (list[Tensor]): ``(N, A * K, H, W)`` classification
            outputs, one per FPN level, as the head's loss reads them.
        valid (list[Tensor]): ``(N, H * W * A)`` boolean masks per level:
            priors inside each image's own ``pad_shape``
            (``prior_generator.valid_flags``).
        num_logits (int): ``K``, logits per prior (``cls_out_channels``:
            ``C`` for sigmoid heads, ``C + 1`` for softmax heads).
        activation (str): ``'sigmoid'`` or ``'softmax'``
            (``use_sigmoid_cls``).
        head (str): The head's module name, e.g. ``'bbox_head'``.
        targets (dict): The targets the head's own loss assigned in this
            step, filled when it computes them: ``labels`` and
            ``label_weights`` (``(N, H * W * A)`` per level, background
            label ``C``), ``avg_factor`` and ``loss_cls_calls`` (the
            arguments of each call of the head's ``loss_cls`` after the
            scores); empty when the head computed no loss (a frozen
            peer).
        module (nn.Module, optional): The head itself (its classifier and
            classification loss, for ADM's attended term).
    """

    cls_scores: List[Tensor]
    valid: List[Tensor]
    num_logits: int
    activation: str
    head: str
    targets: Dict[str, Any]
    module: Optional[nn.Module] = None

    def target_rows(self) -> Tuple[Tensor, Tensor]:
        """The head's labels as rows in mmdet's order (level, image, y, x,
        prior) and which rows count: inside the image and with a
        positive label weight (MaxIoUAssigner's neutral band has weight
        0).

        Returns:
            tuple[Tensor, Tensor]: ``(P,)`` labels and ``(P,)`` mask.

        Raises:
            RuntimeError: The head computed no targets in this step.
        """
        if 'labels' not in self.targets:
            raise RuntimeError(
                f'{self.head}: no targets were recorded in this step (the '
                'head computed no loss, e.g. a frozen peer); terms that '
                'reuse the head\'s targets need a trained peer.')
        labels = torch.cat([t.reshape(-1) for t in self.targets['labels']])
        weights = torch.cat(
            [t.reshape(-1) for t in self.targets['label_weights']])
        inside = torch.cat([mask.reshape(-1) for mask in self.valid])
        return labels, inside & (weights > 0)


class RoIRecord(NamedTuple):
    """What a detection term reads of one two-stage peer's RoI head in one
    step (recorded by ``mmokd.RoIHeadRecorder``).

    Attributes:
        feats (tuple[Tensor]): The FPN maps the RoI extractor pooled from.
        rois (Tensor): ``(R, 5)`` sampled RoIs (batch index, box),
            ground-truth boxes included, as the RoI head's loss used them.
        cls_score (Tensor): ``(R, C + 1)`` softmax logits of those RoIs.
        roi_head (nn.Module): The peer's RoI head, to classify other
            peers' RoIs (:meth:`classify`).
    """

    feats: Tuple[Tensor, ...]
    rois: Tensor
    cls_score: Tensor
    roi_head: nn.Module

    @torch.no_grad()
    def classify(self, rois: Tensor) -> Tensor:
        """This peer's class logits of ``rois`` pooled from its own
        recorded FPN maps, without gradient (RoI cross-evaluation).

        Args:
            rois (Tensor): ``(R, 5)`` RoIs, e.g. another peer's.

        Returns:
            Tensor: ``(R, C + 1)`` logits.
        """
        feats = tuple(feat.detach() for feat in self.feats)
        return self.roi_head._bbox_forward(feats, rois)['cls_score']


def detector_heads(network: nn.Module) -> List[nn.Module]:
    """The heads of an mmdet detector that predict object classes:
    ``bbox_head`` (single-stage) or ``roi_head.bbox_head`` (two-stage).

    Args:
        network (nn.Module): A built detector.

    Returns:
        list[nn.Module]: The class-predicting heads (empty if none).
    """
    heads = [getattr(network, 'bbox_head', None)]
    roi_head = getattr(network, 'roi_head', None)
    heads.append(getattr(roi_head, 'bbox_head', None))
    return [head for head in heads if hasattr(head, 'num_classes')]


@TASKS.register_module()
class DetTask(BaseTask):
    """Class posteriors of every prior of every FPN level of a dense
    detection head; no label map.

    A term reads a peer's head through a :class:`DenseHeadRecord`: the
    per-level ``(N, A * K, H, W)`` maps, which priors lie inside each
    image, and the head's own activation (sigmoid heads: RetinaNet, GFL,
    FCOS, RPN; softmax heads), so heads of either kind work. Nothing is
    left out by label (``ignored_label`` is None): batch padding is left
    out by the record's masks, and the terms that use labels read the
    targets the head assigned itself.

    Example:
        >>> model = dict(type='mmokd.DML', task=dict(type='mmokd.DetTask'),
        ...              logits=dict(type='mmokd.DenseHead',
        ...                          source='bbox_head'), ...)
    """

    name = 'detection'
    #: Logits are per-level maps, but there is no label map to resize, and
    #: no label is left out (``ignored_label`` is None).
    is_dense = False
    #: The usual activation; each record carries its head's own.
    activation = 'sigmoid'
    network_base = 'mmdet.models.detectors.BaseDetector'
    #: Not one tensor: a record (:meth:`logits_error`).
    logits_layout = 'DenseHeadRecord or RoIRecord'

    def labels(self, data_samples: List[Any]) -> Tensor:
        """The class labels of every ground-truth instance of the batch.

        Args:
            data_samples (list): mmdet ``DetDataSample`` items.

        Returns:
            Tensor: ``(M,)`` labels of all ``gt_instances``, image by
            image.
        """
        if not data_samples or 'gt_instances' not in data_samples[0]:
            raise KeyError('DetTask: the data samples carry no '
                           'gt_instances; use a detection dataset (mmdet '
                           'PackDetInputs) or set model.task.')
        return torch.cat([s.gt_instances.labels
                          for s in data_samples]).long()

    def num_classes(self, network: nn.Module) -> Optional[int]:
        """The ``num_classes`` of the detector's class-predicting head.

        Args:
            network (nn.Module): A built detector.

        Returns:
            int, optional: The class count.
        """
        heads = detector_heads(network)
        return heads[0].num_classes if heads else None

    def logits_error(self, logits: Any) -> Optional[str]:
        """Detection logits are a :class:`DenseHeadRecord` or a
        :class:`RoIRecord`.

        Args:
            logits: The recorded output.

        Returns:
            str, optional: The mismatch, or None.
        """
        if not isinstance(logits, (DenseHeadRecord, RoIRecord)):
            what = tuple(logits.shape) if isinstance(logits, Tensor) else \
                type(logits).__name__
            return (f'recorded {what}, not a dense head\'s outputs (record '
                    "them with dict(type='mmokd.DenseHead', "
                    "source='bbox_head')) or a RoI head's "
                    "(dict(type='mmokd.RoIHead', source='roi_head'))")
        return None
