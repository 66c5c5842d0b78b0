"""A test-only hook that lets tests compare MC-Distil's networks and
C-Net across ranks."""
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmokd.models.utils import unwrap


@HOOKS.register_module()
class DumpMCDistilDigestHook(Hook):
    """Writes, per rank, the sum of every parameter of every peer and of
    the C-Net after training to ``{work_dir}/digest_rank{rank}.json``."""

    def after_train(self, runner) -> None:
        model = unwrap(runner.model)
        digest = {
            name: float(
                sum(p.detach().double().sum()
                    for p in unwrap(model._modules[name]).parameters()))
            for name in model.peer_names + list(model.extra_optimized_names)
        }
        path = osp.join(runner.work_dir, f'digest_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(digest, f)
