"""Records an mmdet dense head's classification outputs of every level."""
from typing import Any, List, Optional, Tuple

from mmrazor.models.task_modules.recorder.base_recorder import BaseRecorder
from torch import nn

from mmokd.registry import TASK_UTILS
from ..losses.functional import padding_valid_masks
from ..tasks.det_task import DenseHeadRecord


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
    recorded maps are the ones the head's own loss reads, so no forward is
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

    def _samples_hook(self, module: nn.Module, args: Tuple,
                      kwargs: dict) -> None:
        """Keeps the data samples of the detector's call."""
        if self._recording:
            self._samples = args[1] if len(args) > 1 else kwargs.get(
                'data_samples')

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
                head=self.source))

    def __enter__(self) -> None:
        """Starts recording (the buffer is emptied)."""
        super().__enter__()
        self._recording = True

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        """Stops recording and drops the data samples."""
        super().__exit__(exc_type, exc_value, traceback)
        self._recording = False
        self._samples = None
