"""Validation and test loops that evaluate several peers in turn."""
from typing import Dict, List, Sequence, Union

from mmengine.runner import TestLoop, ValLoop

from mmokd.models.algorithms.base import PeerAlgorithm
from mmokd.models.utils import unwrap
from mmokd.registry import LOOPS

PeerSpec = Union[str, Sequence[str]]


def _resolve(spec: PeerSpec, algorithm: PeerAlgorithm,
             field: str) -> List[str]:
    """Turns ``'all'``, a name or a list of names into peer names."""
    if spec == 'all':
        names = list(algorithm.peer_names)
    elif isinstance(spec, str):
        names = [spec]
    else:
        names = list(spec)
    unknown = [name for name in names if name not in algorithm.peer_names]
    if unknown:
        raise ValueError(f'{field}: unknown peers {unknown}; the peers are '
                         f'{algorithm.peer_names}.')
    student = algorithm.student_name
    return sorted(names, key=lambda name: name != student)


def _evaluate(loop, peers: List[str]) -> Dict[str, float]:
    """Runs ``loop``'s dataloader once per peer and merges the metrics.

    The student's metrics keep their plain names (so ``save_best`` tracks
    the student); every other peer's are prefixed ``'{peer}.'``.
    """
    algorithm: PeerAlgorithm = unwrap(loop.runner.model)
    metrics: Dict[str, float] = {}
    for peer in peers:
        with algorithm.evaluating(peer):
            for idx, data_batch in enumerate(loop.dataloader):
                loop.run_iter(idx, data_batch)
        peer_metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
        if peer != algorithm.student_name:
            peer_metrics = {
                f'{peer}.{key}': value
                for key, value in peer_metrics.items()
            }
        metrics.update(peer_metrics)
    return metrics


def _run_stage(loop, stage: str, spec: PeerSpec, field: str) -> dict:
    """``run()`` of a ``'val'`` or ``'test'`` loop over the peers of
    ``spec``, with the stage's hooks around it."""
    runner = loop.runner
    runner.call_hook(f'before_{stage}')
    runner.call_hook(f'before_{stage}_epoch')
    runner.model.eval()
    metrics = _evaluate(loop, _resolve(spec, unwrap(runner.model), field))
    runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
    runner.call_hook(f'after_{stage}')
    return metrics


@LOOPS.register_module()
class OnlineDistillValLoop(ValLoop):
    """Validates every peer of an online distillation algorithm.

    Example:
        >>> val_cfg = dict(type='mmokd.OnlineDistillValLoop',
        ...                eval_peers='all')

    Args:
        runner (Runner): The runner.
        dataloader (Dataloader | dict): Validation dataloader.
        evaluator (Evaluator | dict | list): Validation evaluator.
        fp16 (bool): Autocast during validation. Defaults to False.
        eval_peers (str | list[str]): ``'all'``, one peer or a list.
            The student (if included) is evaluated first, unprefixed.
    """

    def __init__(self,
                 runner,
                 dataloader,
                 evaluator,
                 fp16: bool = False,
                 eval_peers: PeerSpec = 'all') -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self.eval_peers = eval_peers

    def run(self) -> dict:
        """Validates the chosen peers.

        Returns:
            dict: Metrics of all evaluated peers.
        """
        return _run_stage(self, 'val', self.eval_peers, 'val_cfg.eval_peers')


@LOOPS.register_module()
class OnlineDistillTestLoop(TestLoop):
    """Tests one chosen peer (or several) of an online distillation run.

    Example:
        >>> test_cfg = dict(type='mmokd.OnlineDistillTestLoop',
        ...                 test_peers='student')

    Args:
        runner (Runner): The runner.
        dataloader (Dataloader | dict): Test dataloader.
        evaluator (Evaluator | dict | list): Test evaluator.
        fp16 (bool): Autocast during testing. Defaults to False.
        test_peers (str | list[str]): Peers to test; defaults to the
            student.
    """

    def __init__(self,
                 runner,
                 dataloader,
                 evaluator,
                 fp16: bool = False,
                 test_peers: PeerSpec = 'student') -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self.test_peers = test_peers

    def run(self) -> dict:
        """Tests the chosen peers.

        Returns:
            dict: Metrics of all tested peers.
        """
        return _run_stage(self, 'test', self.test_peers,
                          'test_cfg.test_peers')
