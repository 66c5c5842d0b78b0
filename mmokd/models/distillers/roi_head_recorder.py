"""Records a two-stage detector's sampled RoIs and their class logits."""
from typing import Optional, Tuple

from mmrazor.models.task_modules.recorder.base_recorder import BaseRecorder
from torch import nn

from mmokd.registry import TASK_UTILS
from ..tasks.det_task import RoIRecord


@TASK_UTILS.register_module()
class RoIHeadRecorder(BaseRecorder):
    """Records what an mmdet RoI head's loss reads, as a
    :class:`~mmokd.models.tasks.det_task.RoIRecord`: the FPN maps and the
    sampled RoIs going into ``bbox_roi_extractor`` (a forward pre-hook)
    and the class logits ``bbox_head`` returns for them (a forward hook).
    The record keeps the RoI head itself so that a term can classify
    another peer's RoIs with it (RoI cross-evaluation).

    Example:
        >>> recorders = dict(student=dict(rois=dict(
        ...     type='mmokd.RoIHead', source='roi_head')))

    Args:
        source (str): Module name of the RoI head (``'roi_head'``).
    """

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self._recording = False
        self._pending: Optional[Tuple] = None
        self._roi_head: Optional[nn.Module] = None

    def prepare_from_model(self, model: Optional[nn.Module] = None) -> None:
        """Hooks the RoI head's extractor and box head.

        Args:
            model (nn.Module): The detector.

        Raises:
            ValueError: ``source`` is not an RoI head of ``model``.
        """
        roi_head = dict(model.named_modules()).get(self.source)
        if not (hasattr(roi_head, 'bbox_roi_extractor')
                and hasattr(roi_head, 'bbox_head')
                and hasattr(roi_head, '_bbox_forward')):
            raise ValueError(
                f'mmokd.RoIHead.source: "{self.source}" is not an RoI head '
                f'of this {type(model).__name__} (a module with '
                'bbox_roi_extractor and bbox_head); use "roi_head" of a '
                'two-stage detector.')
        self._roi_head = roi_head
        roi_head.bbox_roi_extractor.register_forward_pre_hook(self._inputs)
        roi_head.bbox_head.register_forward_hook(self._outputs)

    def _inputs(self, module: nn.Module, args: Tuple) -> None:
        """Keeps the pooled maps and the RoIs."""
        if self._recording:
            self._pending = (tuple(args[0]), args[1])

    def _outputs(self, module: nn.Module, inputs: Tuple,
                 outputs: Tuple) -> None:
        """Records the RoIs with their class logits."""
        if self._recording and self._pending is not None:
            feats, rois = self._pending
            self.data_buffer.append(
                RoIRecord(feats=feats, rois=rois, cls_score=outputs[0],
                          roi_head=self._roi_head))
            self._pending = None

    def __enter__(self) -> None:
        """Starts recording (the buffer is emptied)."""
        super().__enter__()
        self._recording = True

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        """Stops recording."""
        super().__exit__(exc_type, exc_value, traceback)
        self._recording = False
        self._pending = None
