"""The part of a distill term that reads the algorithm's task."""
from typing import Optional

from .base_task import BaseTask


class TaskTerm:
    """Mixin of loss modules whose meaning depends on the task.

    The algorithm sets :attr:`task` on every such term of its distiller
    when it is built (``OnlineDistiller.prepare``); a term then asks the
    task, never the shape of a tensor, whether its labels can be left
    out. A term used on its own needs its task set by hand::

        loss = DMLLoss()
        loss.task = ClsTask()

    Subclasses have an ``ignore_index`` setting.
    """

    #: The algorithm's task; None until the algorithm sets it.
    task: Optional[BaseTask] = None
    ignore_index: int

    def ignored_label(self) -> Optional[int]:
        """The label this term leaves out under its task.

        Returns:
            int, optional: ``ignore_index`` for dense tasks, None when the
            task never leaves an item out (classification).

        Raises:
            RuntimeError: The task was never set.
        """
        if self.task is None:
            raise RuntimeError(
                f'{type(self).__name__} has no task: the algorithm sets it '
                'when it is built (model.task, or its student network). To '
                f'use the loss on its own, set loss.task = mmokd.ClsTask() '
                '(or SegTask()).')
        return self.task.ignored_label(self.ignore_index)
