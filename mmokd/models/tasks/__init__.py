"""Task adapters: what classification, segmentation and detection mean to
a term."""
from .base_task import BaseTask
from .cls_task import ClsTask
from .det_task import DetTask
from .seg_task import SegTask
from .task_of import task_of
from .task_term import TaskTerm

__all__ = [
    'BaseTask', 'ClsTask', 'DetTask', 'SegTask', 'TaskTerm', 'task_of'
]
