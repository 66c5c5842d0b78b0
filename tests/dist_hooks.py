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
