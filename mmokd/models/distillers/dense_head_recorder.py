"""Records an mmdet dense head's classification outputs of every level."""
from typing import Any, Dict, List, Optional, Tuple

import torch
from mmrazor.models.task_modules.recorder.base_recorder import BaseRecorder
from torch import Tensor, nn

from mmokd.registry import TASK_UTILS
from ..losses.functional import padding_valid_masks
from ..tasks.det_task import DenseHeadRecord


def head_targets(head: nn.Module, targets: tuple,
                 cls_scores: List[Tensor]) -> Dict[str, Any]:
    """A dense head's ``get_targets`` result in one form.

    Anchor heads (RetinaNet, RPN) return ``(labels, label_weights, ...,
    avg_factor)`` and GFL ``(anchors, labels, label_weights, ...,
    avg_factor)``, per level ``(N, H * W * A)``; FCOS returns per level the
    labels of all images concatenated and weighs every point, normalising
    by its positives.

    Args:
        head (nn.Module): The head.
        targets (tuple): What its ``get_targets`` returned.
        cls_scores (list[Tensor]): Its classification maps of the step.

    Returns:
        dict: ``labels`` and ``label_weights`` (``(N, H * W * A)`` per
        level) and ``avg_factor``.

    Raises:
        TypeError: A head whose targets are not read here.
    """
    from mmdet.models.dense_heads import AnchorHead, FCOSHead, GFLHead
    if isinstance(head, FCOSHead):
        num = cls_scores[0].shape[0]
        labels = [level.view(num, -1) for level in targets[0]]
        positives = sum(
            int((level < head.num_classes).sum()) for level in labels)
        return dict(
            labels=labels,
            label_weights=[torch.ones_like(level) for level in labels],
            avg_factor=float(max(positives, 1)))
    if isinstance(head, GFLHead):
        return dict(
            labels=targets[1], label_weights=targets[2],
            avg_factor=targets[5])
    if isinstance(head, AnchorHead):
        return dict(
            labels=targets[0], label_weights=targets[1],
            avg_factor=targets[4])
    raise TypeError(
        f'mmokd.DenseHead: the targets of a {type(head).__name__} are not '
        'read; supported: anchor heads (RetinaNet, RPN), GFL, FCOS.')


@TASK_UTILS.register_module()
class DenseHeadRecorder(BaseRecorder):
    """Records a dense detection head's per-level classification outputs
    with the padding mask of their priors, as a
    :class:`~mmokd.models.tasks.det_task.DenseHeadRecord`.

    The head (``source``: ``'bbox_head'`` of a single-stage detector,
    ``'rpn_head'`` of a two-stage one) returns its classification maps
    first from ``forward`` (RetinaNet, GFL, FCOS, RPN); a forward hook on
    it records them, and a forward pre-hook on the detector keeps the
    batch's data samples, whose ``pad_shape`` says which priors see the
    image (``prior_generator.valid_flags``, as anchor heads use it). The
    head's ``get_targets`` is wrapped on this instance to keep the labels,
    label weights and ``avg_factor`` its loss assigns
    (:func:`head_targets`), and a pre-hook on its ``loss_cls`` keeps every
    call's arguments besides the scores (``targets['loss_cls_calls']``:
    one call per level for anchor and GFL heads, one for FCOS), so ADM can
    score other logits exactly as the head does. The recorded maps and
    targets are the ones the head's own loss reads, so no forward is
    repeated and no prior is assigned twice.

    Example:
        >>> recorders = dict(student=dict(logits=dict(
        ...     type='mmokd.DenseHead', source='bbox_head')))

    Args:
        source (str): Module name of the dense head in the detector.
    """

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self._recording = False
        self._samples: Optional[List[Any]] = None

    def prepare_from_model(self, model: Optional[nn.Module] = None) -> None:
        """Hooks the detector (data samples) and its head (outputs).

        Args:
            model (nn.Module): The detector.

        Raises:
            ValueError: ``source`` is not a dense head of ``model``.
        """
        head = dict(model.named_modules()).get(self.source)
        if not (hasattr(head, 'prior_generator')
                and hasattr(head, 'cls_out_channels')):
            raise ValueError(
                f'mmokd.DenseHead.source: "{self.source}" is not a dense '
                f'head of this {type(model).__name__} (a module with a '
                'prior_generator and cls_out_channels); use "bbox_head" '
                '(single-stage) or "rpn_head" (two-stage).')
        model.register_forward_pre_hook(self._samples_hook, with_kwargs=True)
        head.register_forward_hook(self._outputs_hook)
        compute_targets = head.get_targets

        def get_targets(*args, **kwargs) -> tuple:
            """The head's own ``get_targets``, its result recorded."""
            targets = compute_targets(*args, **kwargs)
            if self._recording and self.data_buffer:
                record = self.data_buffer[-1]
                record.targets.update(
                    head_targets(head, targets, record.cls_scores))
            return targets

        # On this instance only: other networks' heads are untouched.
        head.get_targets = get_targets
        if isinstance(getattr(head, 'loss_cls', None), nn.Module):
            head.loss_cls.register_forward_pre_hook(
                self._loss_inputs_hook, with_kwargs=True)

    def _samples_hook(self, module: nn.Module, args: Tuple,
                      kwargs: dict) -> None:
        """Keeps the data samples of the detector's call."""
        if self._recording:
            self._samples = args[1] if len(args) > 1 else kwargs.get(
                'data_samples')

    def _loss_inputs_hook(self, module: nn.Module, args: Tuple,
                          kwargs: dict) -> None:
        """Keeps what the head's ``loss_cls`` received besides the scores
        (targets, weights, ``avg_factor``), call by call."""
        if self._recording and self.data_buffer:
            calls = self.data_buffer[-1].targets.setdefault(
                'loss_cls_calls', [])
            calls.append((tuple(args[1:]), dict(kwargs)))

    def _outputs_hook(self, module: nn.Module, inputs: Tuple,
                      outputs: Tuple) -> None:
        """Records the classification maps and their padding masks."""
        if not self._recording:
            return
        cls_scores = list(outputs[0])
        if self._samples is None:
            raise RuntimeError(
                f'mmokd.DenseHead({self.source}): the detector was called '
                'without data samples; the padding mask needs their '
                'pad_shape.')
        valid = padding_valid_masks(
            module.prior_generator,
            [tuple(score.shape[-2:]) for score in cls_scores],
            [sample.metainfo['pad_shape'] for sample in self._samples],
            cls_scores[0].device)
        self.data_buffer.append(
            DenseHeadRecord(
                cls_scores=cls_scores,
                valid=valid,
                num_logits=module.cls_out_channels,
                activation='sigmoid' if module.use_sigmoid_cls else
                'softmax',
                head=self.source,
                targets={},
                module=module))

    def __enter__(self) -> None:
        """Starts recording (the buffer is emptied)."""
        super().__enter__()
        self._recording = True

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        """Stops recording and drops the data samples."""
        super().__exit__(exc_type, exc_value, traceback)
        self._recording = False
        self._samples = None
