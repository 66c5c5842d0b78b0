"""A test-only hook that lets tests compare KDCL-General's weights across
ranks."""
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpGeneralWeightsHook(Hook):
    """Writes, per rank, ``model.general_weights`` after training to
    ``{work_dir}/general_weights_rank{rank}.json``."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        path = osp.join(runner.work_dir,
                        f'general_weights_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(model.general_weights.tolist(), f)
