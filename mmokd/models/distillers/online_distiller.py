"""Routes recorded outputs of named peers into per-peer distill losses."""
import copy
import inspect
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence

from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmrazor.models.task_modules import RecorderManager
from torch import Tensor, nn

from mmokd.registry import MODELS
from ..tasks import BaseTask, TaskTerm
from ..utils import build_loss, field_of, is_loss_term


#: Loss arguments that take logits (MMRazor's naming): what is routed to
#: them is checked against the algorithm's task at every step.
LOGIT_ARGS = ('preds_S', 'preds_T')


def _describe_source(source: Any) -> str:
    """A mapping source in a few characters, e.g. ``teacher.logits``."""
    if isinstance(source, list):
        return '[' + ', '.join(_describe_source(item)
                               for item in source) + ']'
    if 'data' in source:
        return f'data:{source["data"]}'
    text = f'{source["peer"]}.{source["recorder"]}'
    if source.get('record_idx'):
        text += f'[call {source["record_idx"]}]'
    if source.get('data_idx') is not None:
        text += f'[{source["data_idx"]}]'
    if source.get('detach'):
        text += '.detach()'
    if source.get('connector') is not None:
        text += f' -> {source["connector"]}'
    return text


def _check_signature(loss: nn.Module, mapping: Dict[str, Any],
                     where: str) -> None:
    """Raises if ``mapping``'s arguments do not fit ``loss.forward``."""
    params = inspect.signature(loss.forward).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = {
        name
        for name, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    unknown = sorted(set(mapping) - named) if not takes_any else []
    required = sorted(name for name in named
                      if params[name].default is inspect.Parameter.empty
                      and name not in mapping)
    if unknown or required:
        problem = (f'unknown arguments {unknown}' if unknown else
                   f'required arguments {required} are not mapped')
        raise ValueError(
            f'{where}: {problem}; {type(loss).__name__}.forward takes '
            f'{sorted(named)}.')


@MODELS.register_module()
class OnlineDistiller(BaseModule):
    """Records peers' intermediate results and computes distill losses.

    Every loss term belongs to one peer (its *owner*): the term is added to
    that peer's loss and reaches only that peer's optimizer. Inputs of a
    loss's ``forward`` are routed by ``loss_forward_mappings``:

    - ``dict(peer='teacher', recorder='logits')``: what the recorder named
      ``logits`` of peer ``teacher`` recorded in this step (add
      ``record_idx=k`` to read the ``k``-th call of the recorded module in
      the step, default 0, e.g. a module shared by several branches;
      ``data_idx=i`` to pick item ``i`` of a recorded tuple;
      ``connector='name'`` to pass it through that peer's connector, and
      ``detach=True`` to cut the gradient before the connector);
    - a list of such dicts: a list of tensors (e.g. several peers);
    - ``dict(data='gt')``: the batch's labels (``(N,)`` for
      classification, ``(N, H, W)`` maps for segmentation);
    - ``dict(data=name)``: a tensor the algorithm computes once per step
      and shares between terms (its ``step_data_names``, e.g. KDCL's
      ``'kdcl_ensemble'``), or one the distiller derives itself
      (:attr:`derived_data_names`, e.g. ADM's attention maps).

    When the algorithm is built, every routing is checked against the
    peers (names of peers, recorders, modules, connectors) and against its
    loss's ``forward`` signature (no unknown argument, no required one
    left out), and the whole routing is written to the log as a table
    (:meth:`routing_table`), including the terms a method generates in
    code (DML, KDCL, SwitOKD).

    Example:
        >>> distiller = dict(
        ...     type='mmokd.OnlineDistiller',
        ...     recorders=dict(
        ...         student=dict(logits=dict(type='ModuleOutputs',
        ...                                  source='head.fc')),
        ...         teacher=dict(logits=dict(type='ModuleOutputs',
        ...                                  source='head.fc'))),
        ...     losses=dict(student=dict(
        ...         loss_dml=dict(type='mmokd.DMLLoss'))),
        ...     loss_forward_mappings=dict(student=dict(loss_dml=dict(
        ...         preds_S=dict(peer='student', recorder='logits'),
        ...         preds_T=dict(peer='teacher', recorder='logits')))))

    Args:
        recorders (dict): ``{peer: {recorder name: MMRazor recorder cfg}}``.
        losses (dict): ``{owner peer: {loss name: loss cfg}}``; names must
            contain ``'loss'`` so mmengine sums them.
        loss_forward_mappings (dict): ``{owner peer: {loss name:
            {forward arg: source}}}`` with sources as above.
        connectors (dict, optional): ``{peer: {name: cfg}}`` trainable
            modules applied to that peer's records (e.g. MMRazor's
            ``ConvModuleConnector`` as a 1x1 adapter); they are optimised
            with that peer.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 recorders: Optional[Dict[str, Dict[str, dict]]] = None,
                 losses: Optional[Dict[str, Dict[str, dict]]] = None,
                 loss_forward_mappings: Optional[Dict[str, Dict[str,
                                                                dict]]] = None,
                 connectors: Optional[Dict[str, Dict[str, dict]]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.recorder_cfgs = copy.deepcopy(dict(recorders or {}))
        self.recorders = {
            peer: RecorderManager(cfgs)
            for peer, cfgs in self.recorder_cfgs.items()
        }
        self.losses = nn.ModuleDict()
        field = field_of(self, 'losses')
        for owner, cfgs in (losses or {}).items():
            self.losses[owner] = nn.ModuleDict()
            for name, cfg in cfgs.items():
                self.losses[owner][name] = build_loss(
                    cfg, f'{field}.{owner}.{name}')
        self.loss_forward_mappings = copy.deepcopy(
            dict(loss_forward_mappings or {}))
        self.connectors = nn.ModuleDict()
        for peer, cfgs in (connectors or {}).items():
            self.connectors[peer] = nn.ModuleDict({
                name: MODELS.build(cfg)
                for name, cfg in cfgs.items()
            })

    def prepare(self,
                peers: Dict[str, nn.Module],
                *,
                task: BaseTask,
                step_data_names: Sequence[str] = ()) -> None:
        """Checks the routing against the peers, hooks the recorders and
        hands the task to every term that reads it (:class:`TaskTerm`).

        Args:
            peers (dict): ``{name: network}`` of the algorithm.
            task (BaseTask): The algorithm's task: it reads the labels
                (``dict(data='gt')``) and checks the logits routed to
                ``preds_S`` / ``preds_T``.
            step_data_names (list[str]): Per-step tensors the algorithm
                provides, routable as ``dict(data=name)``.

        Raises:
            ValueError: Unknown peer, recorder, loss or module names, with
                the config field to fix.
        """
        field = 'model.distiller'
        self.task = task
        self.step_data_names = tuple(step_data_names)
        for losses in self.losses.values():
            for loss in losses.values():
                if isinstance(loss, TaskTerm):
                    loss.task = task
        for peer, cfgs in self.recorder_cfgs.items():
            self._check_peer(peer, peers, f'{field}.recorders')
            modules = dict(peers[peer].named_modules())
            params = dict(peers[peer].named_parameters())
            for rec_name, cfg in cfgs.items():
                source = cfg.get('source')
                kind = cfg['type']
                known = params if kind == 'Parameter' else modules
                if kind.startswith(('Module', 'Parameter')) and \
                        source not in known:
                    raise ValueError(
                        f'{field}.recorders.{peer}.{rec_name}.source: '
                        f'peer "{peer}" has no '
                        f'{"parameter" if kind == "Parameter" else "module"}'
                        f' "{source}". Use a name from its named_modules() '
                        '/ named_parameters(), e.g. "head.fc" (mmpretrain) '
                        'or "decode_head.conv_seg" (mmseg).')
            self.recorders[peer].initialize(peers[peer])
        for owner, losses in self.losses.items():
            self._check_peer(owner, peers, f'{field}.losses')
            mappings = self.loss_forward_mappings.get(owner, {})
            for name in losses:
                if not is_loss_term(name):
                    raise ValueError(
                        f'{field}.losses.{owner}.{name}: a loss name must '
                        'contain "loss", otherwise it is not optimised.')
                if name not in mappings:
                    raise ValueError(
                        f'{field}.loss_forward_mappings.{owner}.{name} is '
                        'missing: say where each forward() argument of this '
                        'loss comes from.')
                _check_signature(
                    losses[name], mappings[name],
                    f'{field}.loss_forward_mappings.{owner}.{name}')
                for arg, source in mappings[name].items():
                    where = (f'{field}.loss_forward_mappings.{owner}.{name}'
                             f'.{arg}')
                    for item in (source
                                 if isinstance(source, list) else [source]):
                        self._check_source(item, peers, where)
        for owner, mappings in self.loss_forward_mappings.items():
            for name in mappings:
                if owner not in self.losses or name not in self.losses[owner]:
                    raise ValueError(
                        f'{field}.loss_forward_mappings.{owner}.{name} maps '
                        f'a loss that {field}.losses.{owner} does not '
                        'define.')
        print_log(
            'Online distillation routing:\n' + self.routing_table(),
            logger='current')

    def routing_table(self) -> str:
        """The recorders, connectors and terms, as one readable table.

        Returns:
            str: One line per recorder (``peer.recorder <- type(source)``),
            connector and term (``owner: name = Loss(arg <- source, ...)``).
        """
        lines = []
        for peer, cfgs in self.recorder_cfgs.items():
            for name, cfg in cfgs.items():
                lines.append(f'  recorder  {peer}.{name} <- '
                             f'{cfg["type"]}({cfg.get("source", "")})')
        for peer, modules in self.connectors.items():
            for name, module in modules.items():
                lines.append(f'  connector {peer}.{name} = '
                             f'{type(module).__name__}')
        for owner, losses in self.losses.items():
            for name, loss in losses.items():
                args = ', '.join(
                    f'{arg} <- {_describe_source(source)}' for arg, source in
                    self.loss_forward_mappings[owner][name].items())
                lines.append(f'  term      {owner}: {name} = '
                             f'{type(loss).__name__}({args})')
        return '\n'.join(lines)

    @property
    def derived_data_names(self) -> List[str]:
        """Names of :meth:`derived_step_data`'s tensors; none here."""
        return []

    def derived_step_data(self, data_samples: List[Any],
                          cache: Dict[Any, Any]) -> Dict[str, Tensor]:
        """Tensors the distiller derives once per step from the records
        and shares between its terms, routable as ``dict(data=name)``;
        none here.

        Args:
            data_samples (list): The batch's data samples.
            cache (dict): This step's fetch cache (see :meth:`fetch`).

        Returns:
            dict: ``{name: tensor}``.
        """
        return {}

    @staticmethod
    def _check_peer(peer: str, peers: Dict[str, nn.Module],
                    where: str) -> None:
        """Raises if ``peer`` is not one of the algorithm's peers."""
        if peer not in peers:
            raise ValueError(
                f'{where}.{peer}: unknown peer "{peer}". The peers are '
                f'{sorted(peers)} (keys of model.peers).')

    def _check_source(self, source: dict, peers: Dict[str, nn.Module],
                      where: str) -> None:
        """Raises if a mapping source names no known peer or recorder."""
        if 'data' in source:
            known = ('gt', ) + self.step_data_names + \
                tuple(self.derived_data_names)
            if source['data'] not in known:
                raise ValueError(f'{where}: dict(data=...) must name one '
                                 f'of {list(known)}, got {source}.')
            return
        peer, recorder = source.get('peer'), source.get('recorder')
        if peer not in peers:
            raise ValueError(
                f'{where}.peer: unknown peer "{peer}". The peers are '
                f'{sorted(peers)} (keys of model.peers).')
        if recorder not in self.recorder_cfgs.get(peer, {}):
            raise ValueError(
                f'{where}.recorder: peer "{peer}" has no recorder '
                f'"{recorder}"; add it under '
                f'model.distiller.recorders.{peer}.')
        connector = source.get('connector')
        if connector is not None and (peer not in self.connectors or connector
                                      not in self.connectors[peer]):
            raise ValueError(
                f'{where}.connector: peer "{peer}" has no connector '
                f'"{connector}"; add it under '
                f'model.distiller.connectors.{peer}.')

    @contextmanager
    def recording(self, peer: str) -> Iterator[None]:
        """Records ``peer``'s intermediate results inside the block."""
        manager = self.recorders.get(peer)
        if manager is None:
            yield
            return
        with manager:
            yield

    def forget(self, peer: str) -> None:
        """Drops ``peer``'s recorded results, and with them the autograd
        graph they keep alive (e.g. a look-ahead's leaves).

        Args:
            peer (str): Peer name.
        """
        manager = self.recorders.get(peer)
        if manager is not None:
            for recorder in manager.recorders.values():
                recorder.reset_data_buffer()

    def fetch(self, source: Any, data_samples: List[Any],
              cache: Dict[Any, Any]) -> Any:
        """Returns the tensor (or list) a mapping source points to.

        Labels and connector outputs are computed once per step
        (``cache``).
        """
        if isinstance(source, list):
            return [self.fetch(item, data_samples, cache) for item in source]
        if 'data' in source and source['data'] != 'gt':
            return cache['step_data'][source['data']]
        if 'data' in source:
            if 'gt' not in cache:
                cache['gt'] = self.task.labels(data_samples)
            return cache['gt']
        peer = source['peer']
        key = (peer, source['recorder'], source.get('record_idx',
                                                    0), source.get('data_idx'),
               source.get('connector'), bool(source.get('detach', False)))
        if key not in cache:
            recorder = self.recorders[peer].get_recorder(source['recorder'])
            data = recorder.get_record_data(key[2], key[3])
            if key[5]:
                data = data.detach()
            if key[4] is not None:
                data = self.connectors[peer][key[4]](data)
            cache[key] = data
        return cache[key]

    def forward(
        self,
        data_samples: List[Any],
        step_data: Optional[Dict[str, Tensor]] = None
    ) -> Dict[str, Dict[str, Tensor]]:
        """Computes every distill term from this step's records.

        Called through ``__call__`` so that, under distributed training,
        the gradients of trainable connectors are synchronised by the
        distiller's DDP wrapper.

        Args:
            data_samples (list): The batch's data samples (for labels).
            step_data (dict, optional): The algorithm's per-step tensors,
                ``{name: tensor}`` (see ``step_data_names``).

        Returns:
            dict: ``{owner peer: {loss name: weighted loss}}``.
        """
        cache: Dict[Any, Any] = {'step_data': dict(step_data or {})}
        cache['step_data'].update(self.derived_step_data(data_samples, cache))
        results: Dict[str, Dict[str, Tensor]] = {}
        for owner, losses in self.losses.items():
            results[owner] = {}
            for name, loss in losses.items():
                kwargs = {}
                for arg, source in self.loss_forward_mappings[owner][
                        name].items():
                    kwargs[arg] = self.fetch(source, data_samples, cache)
                    if arg in LOGIT_ARGS:
                        self.check_logits(kwargs[arg], source)
                results[owner][name] = loss(**kwargs)
        return results

    def check_logits(self, value: Any, source: Any) -> None:
        """Raises if recorded logits do not fit the task (e.g. a feature
        map recorded for a classifier), naming the peer and recorder.

        Args:
            value: What the source gave (a list for a list source).
            source (dict | list): A mapping source, e.g.
                ``dict(peer='teacher', recorder='logits')``.
        """
        if isinstance(source, list):
            for item, item_source in zip(value, source):
                self.check_logits(item, item_source)
        elif 'data' not in source:
            self.task.check_logits(
                value, f'model.distiller.recorders.{source["peer"]}.'
                f'{source["recorder"]}')
