"""Writes the deployable peer's checkpoint when training ends."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import EMAHook, Hook

from mmokd.models.algorithms.base import PeerAlgorithm
from mmokd.models.utils import nonfinite_tensors, unwrap
from mmokd.registry import HOOKS
from mmokd.utils.export import plain_peer_config, save_peer_export


@HOOKS.register_module()
class ExportPeerHook(Hook):
    """Saves one peer (default: the student) as a plain checkpoint.

    After training, writes ``{log_dir}/{peer}.pth`` (``log_dir`` is the
    run's own timestamped folder, so nothing is overwritten; an existing
    file is never replaced) with the peer's weights under the keys of the
    plain mmdet / mmseg / mmpretrain model (the algorithm's
    ``deployable_state_dict``; e.g. GPD extracts its student from the
    shared parameter store), and beside it ``{log_dir}/{peer}.py``, the
    peer's plain config (``cfg_path`` with ``cfg_options`` applied, as
    ``mmokd.ExternalModel`` builds it;
    :func:`~mmokd.utils.export.plain_peer_config`), which the package's
    own ``tools/test.py`` runs with the checkpoint. With an ``EMAHook`` in the
    run, the exported weights are the average's, the ones validated and
    saved in the checkpoints' ``state_dict``. Non-finite weights are
    never exported: the hook raises instead.

    Example:
        >>> custom_hooks = [dict(type='mmokd.ExportPeerHook')]

    Args:
        peer (str, optional): Peer to export; defaults to the algorithm's
            student.
    """

    priority = 'VERY_LOW'

    def __init__(self, peer: Optional[str] = None) -> None:
        self.peer = peer

    def after_train(self, runner) -> None:
        """Exports the peer on the main process.

        Args:
            runner (Runner): The runner.
        """
        if not is_main_process():
            return
        algorithm: PeerAlgorithm = unwrap(runner.model)
        peer = self.peer or algorithm.student_name
        meta = dict(exported_peer=peer, iter=runner.iter, epoch=runner.epoch)
        ema = [hook for hook in runner.hooks if isinstance(hook, EMAHook)]
        if ema:
            algorithm = ema[0].ema_model.module
            meta['weights'] = 'ema'
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        if hasattr(dataset, 'metainfo'):
            meta['dataset_meta'] = dataset.metainfo
        state = {
            k: v.cpu()
            for k, v in algorithm.deployable_state_dict(peer).items()
        }
        bad = nonfinite_tensors(state.items())
        if bad:
            raise FloatingPointError(
                f'ExportPeerHook: peer "{peer}" has non-finite weights '
                f'{bad[:3]}; nothing was exported.')
        plain = plain_peer_config(runner.cfg.get('model') or {}, peer)
        path, config_path = save_peer_export(
            state, osp.join(runner.log_dir, f'{peer}.pth'), meta, plain)
        runner.logger.info(f'Exported peer "{peer}" to {path}' + (
            f' and its plain config to {config_path}'
            if config_path else ' (no config of it in model to write)'))
