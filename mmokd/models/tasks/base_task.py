"""What a task means to online distillation (the task adapter contract)."""
import importlib
from typing import Any, List, Optional

from torch import Tensor, nn


class BaseTask:
    """How one kind of network (classifier, segmentor, ...) is read.

    An algorithm resolves its task once, when it is built: from its
    ``task`` config field, or from the deployed network
    (:func:`~mmokd.models.tasks.task_of`), and hands it to each of its
    distill terms. No term guesses the task from a tensor's shape.

    The ignore convention is the same everywhere: labels mark items that
    are left out with a term's ``ignore_index``; the task says whether its
    labels can be left out at all (:meth:`ignored_label`), and every
    function of :mod:`mmokd.models.losses.functional` takes
    ``(target, ignore_index)`` with ``ignore_index=None`` (or no target)
    meaning that every item counts.

    Subclasses set the class attributes below and implement
    :meth:`labels` and :meth:`num_classes`; a task whose logits are not
    one tensor also overrides :meth:`logits_error`.
    """

    #: Short name used in messages, e.g. ``'classification'``.
    name: str = ''
    #: Whether logits and labels are maps (one item per position).
    is_dense: bool = False
    #: The class activation of the logits: ``'softmax'`` or ``'sigmoid'``.
    activation: str = 'softmax'
    #: The base class of the networks of this task, as a dotted path
    #: (imported when first needed, e.g. ``'mmseg.models.BaseSegmentor'``).
    network_base: str = ''
    #: The layout of one logits tensor, e.g. ``'(N, C)'``: its rank is
    #: checked.
    logits_layout: str = ''

    @classmethod
    def fits(cls, network: nn.Module) -> bool:
        """Whether ``network`` is a network of this task: an instance of
        :attr:`network_base`.

        Args:
            network (nn.Module): A built network (not wrapped).

        Returns:
            bool: True when this task reads ``network``; False when the
            package of :attr:`network_base` is not installed.
        """
        module, _, name = cls.network_base.rpartition('.')
        try:
            base = getattr(importlib.import_module(module), name)
        except ImportError:
            return False
        return isinstance(network, base)

    def labels(self, data_samples: List[Any]) -> Tensor:
        """The batch's ground truth as one tensor.

        Args:
            data_samples (list): The batch's data samples.

        Returns:
            Tensor: The labels, ``long``.
        """
        raise NotImplementedError

    def num_classes(self, network: nn.Module) -> Optional[int]:
        """The number of classes ``network`` predicts.

        Args:
            network (nn.Module): A built network (not wrapped).

        Returns:
            int, optional: The class count; None when it has none.
        """
        raise NotImplementedError

    def ignored_label(self, ignore_index: int) -> Optional[int]:
        """The label left out by a term configured with ``ignore_index``.

        Args:
            ignore_index (int): The term's ``ignore_index`` setting.

        Returns:
            int, optional: The label, or None when this task never leaves
            an item out.
        """
        return ignore_index if self.is_dense else None

    def logits_error(self, logits: Any) -> Optional[str]:
        """What is wrong with ``logits`` for this task: not one tensor of
        :attr:`logits_layout`'s rank.

        Args:
            logits: A recorded output routed to a logits argument.

        Returns:
            str, optional: A description of the mismatch; None when the
            logits fit.
        """
        if not isinstance(logits, Tensor):
            return f'recorded a {type(logits).__name__}, not a tensor'
        if logits.dim() != self.logits_layout.count(',') + 1:
            return (f'recorded logits of shape {tuple(logits.shape)}, not '
                    f'{self.logits_layout}')
        return None

    def check_logits(self, logits: Any, source: str) -> None:
        """Raises unless ``logits`` fit this task.

        Args:
            logits: A recorded output routed to a logits argument.
            source (str): Where it comes from, e.g. ``teacher.logits``.

        Raises:
            ValueError: Naming ``source``, the task and the shape.
        """
        error = self.logits_error(logits)
        if error is not None:
            raise ValueError(
                f'{source}: {error}, but the task is {self.name} '
                f'({type(self).__name__}). Record the classifier layer '
                'of the head (e.g. "head.fc" for mmpretrain, '
                '"decode_head.conv_seg" for mmseg), or set model.task '
                "(e.g. dict(type='mmokd.SegTask')).")

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'
