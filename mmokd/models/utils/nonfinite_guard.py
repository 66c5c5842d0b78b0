"""Stops, or skips, training steps whose losses or weights are not finite.

Without it a diverged run (e.g. a learning rate far too high) trains on
NaN for epochs, exits with code 0, and the checkpoint hook's
``max_keep_ckpts`` deletes the last good checkpoints.
"""
from typing import Dict, Iterable, List, NoReturn, Optional, Tuple, Union

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.logging import MessageHub, MMLogger
from torch import Tensor, nn

from mmokd.registry import TASK_UTILS
from .hyperparams import check_integer, config_field, field_of
from .loss_terms import LossDict, is_loss_term
from .wrappers import unwrap

#: ``{peer: {buffer name: copy}}`` saved before a step's forward.
SavedBuffers = Dict[str, Dict[str, Tensor]]
POLICIES = ('stop', 'skip')


def nonfinite_tensors(named: Iterable[Tuple[str, Tensor]]) -> List[str]:
    """Names of the floating-point tensors that hold a NaN or an infinity.

    One L2 norm per tensor finds the candidates: a NaN or infinite element
    makes it non-finite (L2 rather than L1: half the time on the CPU). The
    norms are taken by ``torch._foreach_norm`` over the tensors of each
    device and dtype, one multi-tensor kernel per group on CUDA instead
    of a reduction per tensor (the per-step operator count of the guard
    falls from two per weight to a few). A non-finite
    norm of finite elements (an overflow) is then ruled out element-wise,
    so the answer is exact.

    Args:
        named (Iterable[tuple[str, Tensor]]): ``(name, tensor)`` pairs,
            e.g. ``module.named_parameters()``; integer tensors are
            ignored.

    Returns:
        list[str]: Names of the non-finite tensors, in the given order.
    """
    named = [(name, t.detach()) for name, t in named if t.is_floating_point()]
    if not named:
        return []
    groups: Dict[Tuple[torch.device, torch.dtype], List[int]] = {}
    for index, (_, t) in enumerate(named):
        groups.setdefault((t.device, t.dtype), []).append(index)
    finite = torch.ones(len(named), dtype=torch.bool)
    for indices in groups.values():
        norms = torch._foreach_norm([named[i][1] for i in indices], 2)
        finite[indices] = torch.isfinite(torch.stack(norms)).cpu()
    return [
        named[i][0] for i in (~finite).nonzero().flatten().tolist()
        if not torch.isfinite(named[i][1]).all()
    ]


def _nonfinite(value: Union[Tensor, List[Tensor]]) -> Tensor:
    """Whether a loss value (or any of a list of them) is not finite."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return torch.stack([~torch.isfinite(v.detach()).all()
                        for v in values]).any()


def _weights(module: nn.Module) -> List[Tuple[str, Tensor]]:
    """A module's parameters and buffers under its plain names."""
    module = unwrap(module)
    return list(module.named_parameters()) + list(module.named_buffers())


@TASK_UTILS.register_module()
class NonFiniteGuard:
    """Checks every training step for non-finite losses and weights.

    :meth:`check_losses` runs after the forward and before any backward or
    optimizer step: a NaN or infinite loss term of any peer stops training
    (``policy='stop'``, the default) with an error naming the iteration,
    the peer and the term, or (``policy='skip'``) leaves that peer's update
    out, restores the buffers (BatchNorm statistics) its forward changed,
    and stops only at the ``max_consecutive_skips + 1``-th non-finite step
    in a row. :meth:`check_weights` runs after the update and stops on any
    non-finite parameter or buffer (an update that overflowed although the
    losses were finite cannot be undone). Both decisions are all-reduced,
    so every rank takes the same one. Because training stops inside the
    step, no checkpoint of non-finite weights is written, the checkpoint
    hook removes no older one, and ``last_checkpoint`` keeps pointing to
    the last finite checkpoint; nothing is exported.

    Gradients are not checked: under ``--amp`` the loss scaler's own
    skipped steps (finite loss, overflowing scaled gradients) leave the
    weights unchanged and are not failures.

    Every mmokd algorithm builds one from its ``nonfinite_guard`` field.

    Example:
        >>> model = dict(type='mmokd.DML', ...,
        ...              nonfinite_guard=dict(policy='skip',
        ...                                   max_consecutive_skips=5))

    Args:
        policy (str): ``'stop'`` or ``'skip'``. Defaults to ``'stop'``.
        max_consecutive_skips (int): With ``'skip'``: how many non-finite
            steps in a row are skipped before training stops. Defaults
            to 5.
    """

    def __init__(self,
                 policy: str = 'stop',
                 max_consecutive_skips: int = 5) -> None:
        if policy not in POLICIES:
            raise ValueError(f'{field_of(self, "policy")} must be one of '
                             f'{POLICIES}, got {policy!r}.')
        self.policy = policy
        self.max_consecutive_skips = check_integer(
            max_consecutive_skips, field_of(self, 'max_consecutive_skips'), 1)
        self.consecutive = 0
        self.steps = 0

    def _iteration(self) -> int:
        """The runner's iteration (1-based, as logged), or this guard's
        own step count outside a runner."""
        index = MessageHub.get_current_instance().get_info('iter')
        return self.steps if index is None else index + 1

    def save_buffers(self, peers: Dict[str, nn.Module]) -> SavedBuffers:
        """Copies of the peers' buffers (BatchNorm statistics and
        counters), taken before the forward so that a skipped step can
        restore them (``'skip'`` only; nothing is copied under
        ``'stop'``).

        Args:
            peers (dict): ``{peer: module}`` about to run.

        Returns:
            dict: ``{peer: {buffer name: copy}}``.
        """
        if self.policy != 'skip':
            return {}
        return {
            peer: {
                name: buf.detach().clone()
                for name, buf in module.named_buffers()
            }
            for peer, module in peers.items()
        }

    def check_losses(self, losses: Dict[str, LossDict], saved: SavedBuffers,
                     peers: Dict[str, nn.Module]) -> List[str]:
        """Decides, before any update, which peers must not step.

        Args:
            losses (dict): ``{peer: {term: value}}`` of this step; the
                loss terms (:func:`is_loss_term`) are checked.
            saved (dict): :meth:`save_buffers`' copies.
            peers (dict): ``{peer: module}``, to restore skipped peers'
                buffers.

        Returns:
            list[str]: The peers whose update is skipped (empty when every
            loss is finite).

        Raises:
            FloatingPointError: Under ``'stop'`` at the first non-finite
                loss, under ``'skip'`` after too many in a row.
        """
        self.steps += 1
        terms = [(peer, term, value) for peer, peer_losses in losses.items()
                 for term, value in peer_losses.items() if is_loss_term(term)]
        if not terms:
            return []
        flags = torch.stack([_nonfinite(value)
                             for _, _, value in terms]).float()
        all_reduce(flags)  # every rank takes the same decision
        bad = [(peer, term) for (peer, term, _), flag in zip(terms, flags)
               if flag > 0]
        if not bad:
            self.consecutive = 0
            return []
        self.consecutive += 1
        where = ', '.join(f'peer "{peer}" term "{term}"' for peer, term in bad)
        if self.policy == 'stop' or \
                self.consecutive > self.max_consecutive_skips:
            reason = ("model.nonfinite_guard.policy='stop'"
                      if self.policy == 'stop' else
                      f'{self.consecutive} non-finite steps in a row, '
                      f'max_consecutive_skips={self.max_consecutive_skips}')
            self._stop(
                f'Non-finite loss at iteration {self._iteration()}: {where}. '
                f'Training stopped before this step\'s update ({reason}).')
        skipped = list(dict.fromkeys(peer for peer, _ in bad))
        for peer in skipped:
            for name, buf in peers[peer].named_buffers():
                if name in saved.get(peer, {}):
                    buf.copy_(saved[peer][name])
        if is_main_process():
            MMLogger.get_current_instance().warning(
                f'Non-finite loss at iteration {self._iteration()}: '
                f'{where}; skipped the update of {skipped} '
                f'({self.consecutive} of at most '
                f'{self.max_consecutive_skips} in a row).')
        return skipped

    def check_weights(self, peers: Dict[str, nn.Module]) -> None:
        """Stops if any parameter or floating buffer is not finite after
        the update.

        Args:
            peers (dict): ``{peer: module}`` of the trained networks.

        Raises:
            FloatingPointError: Naming the peers and their first
                non-finite tensors.
        """
        weights = {peer: _weights(module) for peer, module in peers.items()}
        bad = {
            peer: nonfinite_tensors(named)
            for peer, named in weights.items()
        }
        device = next(t.device for named in weights.values() for _, t in named)
        flags = torch.tensor([float(bool(bad[peer])) for peer in peers],
                             device=device)
        all_reduce(flags)
        if not flags.any():
            return
        where = ', '.join(
            f'peer "{peer}" {bad[peer][:3] or "(on another rank)"}'
            for peer, flag in zip(peers, flags) if flag > 0)
        self._stop(
            f'Non-finite weights at iteration {self._iteration()} after the '
            f'update: {where}, although the losses were finite (e.g. an '
            'update overflowing float32). Training stopped before any '
            'checkpoint of them.')

    @staticmethod
    def _stop(message: str) -> NoReturn:
        """Logs ``message`` (so it reaches the run's log file) and raises.
        """
        message += (' No checkpoint holds non-finite weights; '
                    'last_checkpoint in the work_dir names the last finite '
                    'one (resume from it with --resume). Lower the learning '
                    'rate, clip gradients (optim_wrapper.clip_grad) or check '
                    "the data; model.nonfinite_guard=dict(policy='skip') "
                    'skips isolated non-finite steps instead.')
        if is_main_process():
            MMLogger.get_current_instance().error(message)
        raise FloatingPointError(message)


def build_nonfinite_guard(cfg: Optional[dict]) -> NonFiniteGuard:
    """Builds an algorithm's guard from its ``model.nonfinite_guard``.

    Args:
        cfg (dict, optional): Arguments of :class:`NonFiniteGuard` (``type``
            optional); ``None`` for the default ``policy='stop'``.

    Returns:
        NonFiniteGuard: The guard.
    """
    cfg = dict(cfg or {})
    cfg.setdefault('type', 'mmokd.NonFiniteGuard')
    with config_field('model.nonfinite_guard'):
        return TASK_UTILS.build(cfg)
