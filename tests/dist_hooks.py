"""A test-only hook that lets tests compare the peers across ranks."""
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpPeerDigestHook(Hook):
    """Writes, per rank, a checksum of every peer's parameters after
    training to ``{work_dir}/digest_rank{rank}.json``."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        digest = {}
        for name in model.peer_names:
            peer = model.peer(name)
            peer = peer.module if is_model_wrapper(peer) else peer
            digest[name] = float(
                sum(p.detach().double().sum() for p in peer.parameters()))
        path = osp.join(runner.work_dir, f'digest_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(digest, f)


@HOOKS.register_module()
class RecordSwitchHook(Hook):
    """Writes, per rank, SwitOKD's logged decision of every iteration and
    the statistics of this rank's own shard (recomputed from the recorded
    logits) to ``{work_dir}/switch_rank{rank}.json``."""

    def __init__(self) -> None:
        self.decisions, self.local_stats = [], []

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        from mmokd.models.losses import switokd_statistics
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        logits = [model.record(n, 'logits') for n in ('student', 'teacher')]
        labels = model.task.labels(data_batch['data_samples']).to(
            logits[0].device)
        self.decisions.append(float(outputs['switokd.expert']))
        self.local_stats.append(
            switokd_statistics(*logits, labels,
                               model.task.ignored_label(255)).tolist())

    def after_train(self, runner) -> None:
        path = osp.join(runner.work_dir, f'switch_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(
                dict(decisions=self.decisions, local_stats=self.local_stats),
                f)
