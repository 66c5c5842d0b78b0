"""ADM's terms as compiled, fused kernels (``ADMDistiller(fuse_terms=True)``).

Chen et al., "Asymmetric Decision-Making in Online Knowledge Distillation:
Unifying Consensus and Divergence", ICML 2025, Eqs. 5-8. In eager mode
ADM's attention maps and its consensus, divergence and feature terms take
about a hundred small operators per step (forward and backward), which on
a launch-bound GPU step cost more than their FLOPs (``docs/benchmarks.md``).
Here each of them runs through ``torch.compile`` (Inductor): the attention
maps as one compiled function, and each term's ``forward`` as one compiled
graph whose backward is compiled too. What is compiled is the very code of
the eager path (:func:`~mmokd.models.losses.functional.adm_attention` and
the loss modules' ``forward``), so both paths compute the same function.

The batch dimension is compiled dynamic, the others static: a smaller last
batch of an epoch reuses the compiled graphs (a batch of one is compiled
once more, as ``torch.compile`` specialises sizes 0 and 1); another
pair's maps of other channel counts compile each graph once more, with
those sizes dynamic. Where compilation is unavailable (``torch.compile``
unsupported on this Python, no C++ compiler for the CPU, no Triton for the
GPU) or fails, the terms fall back to eager mode for good, and a warning
gives the reason.
"""
from contextlib import contextmanager
from functools import partial
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
from mmengine.logging import MMLogger
from torch import Tensor, nn

from mmokd.models.losses import (ADMConsensusLoss, ADMDivergenceLoss,
                                 ADMFeatureLoss)
from mmokd.models.losses.functional import adm_attention

#: The loss modules whose ``forward`` is compiled.
ADM_TERMS = (ADMConsensusLoss, ADMDivergenceLoss, ADMFeatureLoss)


class FusedADMTerms:
    """Compiled attention maps and term ``forward``s of one ADM distiller.

    Compilation happens at the first step. Every graph dynamo hands to
    the backend counts in :attr:`compilations` (4 for one pair: the
    attention maps and the three term classes; 7 for two pairs whose
    teachers differ in width), so a test can assert that training does
    not recompile.

    Example::

        fused = FusedADMTerms()
        consensus, divergence = fused.attention(aligned_s, feat_t, eps)
        with fused.installed(distiller.losses,
                             distiller.loss_forward_mappings):
            loss = distiller.losses['student']['loss_adm_consensus'](
                **inputs)  # its compiled forward

    Args:
        field (str): The config field of the switch, named in the log.
    """

    def __init__(self,
                 field: str = 'model.distiller.fuse_terms') -> None:
        self.field = field
        self.compilations = 0
        #: Why the terms run eagerly, or None while compiled.
        self.fallback_reason: Optional[str] = None
        self._compiled: Dict[object, Callable] = {}

    def _backend(self, graph: torch.fx.GraphModule,
                 example_inputs: List[Tensor]) -> Callable:
        """Inductor, counting the graphs it compiles."""
        from torch._inductor.compile_fx import compile_fx
        compiled = compile_fx(graph, example_inputs)
        self.compilations += 1
        return compiled

    def _fall_back(self, error: Exception) -> None:
        """Records and logs why the terms run eagerly from now on."""
        detail = str(error).strip().splitlines()
        self.fallback_reason = (f'{type(error).__name__}: '
                                f'{detail[0] if detail else ""}')
        self._compiled.clear()
        MMLogger.get_current_instance().warning(
            f'{self.field}: ADM\'s terms could not be compiled '
            f'({self.fallback_reason}); they are computed eagerly.')

    def _call(self, function: Callable, *args, **kwargs) -> Any:
        """``function(*args, **kwargs)``, compiled unless compiling is
        unavailable or has failed (then eagerly, for good)."""
        if self.fallback_reason is None:
            try:
                if function not in self._compiled:
                    self._compiled[function] = torch.compile(
                        function, backend=self._backend)
                for value in (*args, *kwargs.values()):
                    _batch_dynamic(value)
                return self._compiled[function](*args, **kwargs)
            # Creating: unsupported Python; calling: tracing or backend
            # (e.g. no C++ compiler) failed. A genuine error in the inputs
            # is raised again by the eager call below.
            except RuntimeError as error:
                self._fall_back(error)
        return function(*args, **kwargs)

    def attention(self, feat_s: Tensor, feat_t: Tensor,
                  eps: float) -> Tuple[Tensor, Tensor]:
        """:func:`adm_attention`, compiled.

        Args:
            feat_s (Tensor): Student map in the teacher's channel space.
            feat_t (Tensor): Teacher map.
            eps (float): Attention epsilon.

        Returns:
            tuple[Tensor, Tensor]: Consensus and divergence maps.
        """
        return self._call(adm_attention, feat_s, feat_t, eps)

    @contextmanager
    def installed(self, losses: nn.ModuleDict,
                  mappings: Dict[str, Dict[str, dict]]) -> Iterator[None]:
        """Inside the block, calling an ADM term of ``losses`` runs its
        compiled ``forward`` (the module's hooks still run).

        A compiled graph is one autograd node with an edge to every input
        that requires a gradient, even one that the eager code reads only
        under ``no_grad`` (the teacher's classifier in the consensus term's
        KD form): another peer's backward would then reach through it (and
        DDP would see that peer's parameters ready twice in one step).
        Every ADM term reaches only its owner, so the inputs recorded from
        other peers are detached first. Only instance attributes are set,
        and removed on exit: outside the block the modules are plain
        (``deepcopy``, ``inspect.signature``).

        Args:
            losses (nn.ModuleDict): The distiller's ``{owner: {name:
                loss}}``.
            mappings (dict): Its ``{owner: {name: {arg: source}}}``.
        """
        terms = []
        try:
            for owner, owner_losses in losses.items():
                for name, loss in owner_losses.items():
                    if isinstance(loss, ADM_TERMS):
                        loss.forward = partial(self._call_term, loss, owner,
                                               mappings[owner][name])
                        terms.append(loss)
            yield
        finally:
            for loss in terms:
                loss.__dict__.pop('forward', None)

    def _call_term(self, loss: nn.Module, owner: str,
                   sources: Dict[str, Any], **inputs) -> Tensor:
        """``loss``'s compiled ``forward`` on its inputs, those recorded
        from peers other than ``owner`` detached."""
        inputs = {
            arg: _owned(value, sources[arg], owner)
            for arg, value in inputs.items()
        }
        return self._call(type(loss).forward, loss, **inputs)


def _owned(value: Any, source: Any, owner: str) -> Any:
    """``value`` (a tensor or a list), detached where its ``source`` is a
    record of a peer other than ``owner``."""
    if isinstance(source, list):
        return [_owned(v, s, owner) for v, s in zip(value, source)]
    if isinstance(value, Tensor) and source.get('peer', owner) != owner:
        return value.detach()
    return value


def _batch_dynamic(value: object) -> None:
    """Compiles the batch dimension of ``value``'s tensors (a tensor or a
    list of them; not parameters) as dynamic, every other as static."""
    if isinstance(value, (list, tuple)):
        for item in value:
            _batch_dynamic(item)
    elif isinstance(value, Tensor) and value.dim() > 0 and \
            not isinstance(value, nn.Parameter):
        torch._dynamo.maybe_mark_dynamic(value, 0)
