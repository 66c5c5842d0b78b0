"""Writes the deployable peer's checkpoint when training ends."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import EMAHook, Hook

from mmokd.models.algorithms.base import PeerAlgorithm
from mmokd.models.utils import nonfinite_tensors, unwrap
from mmokd.registry import HOOKS
from mmokd.utils.export import save_peer_checkpoint


@HOOKS.register_module()
class ExportPeerHook(Hook):
    """Saves one peer (default: the student) as a plain checkpoint.

    After training, writes ``{log_dir}/{peer}.pth`` (``log_dir`` is the
    run's own timestamped folder, so nothing is overwritten) with the
    peer's weights under the keys of the plain mmseg / mmpretrain model
    (the algorithm's ``deployable_state_dict``; e.g. GPD extracts its
    student from the shared parameter store). With an ``EMAHook`` in the
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
        path = save_peer_checkpoint(state,
                                    osp.join(runner.log_dir, f'{peer}.pth'),
                                    meta)
        runner.logger.info(f'Exported peer "{peer}" to {path}')
