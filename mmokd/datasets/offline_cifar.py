"""CIFAR-100 read from a local folder only."""
import os.path as osp

from mmpretrain.datasets import CIFAR100

from mmokd.registry import DATASETS


@DATASETS.register_module()
class OfflineCIFAR100(CIFAR100):
    """mmpretrain's CIFAR-100 that never downloads.

    Reads the standard ``cifar-100-python/{train,test,meta}`` pickles under
    ``data_root``. A missing folder is reported at construction, before any
    training starts. ``check_md5=False`` accepts files with other checksums,
    such as the tiny sets written by
    ``tools/dataset_converters/make_tiny_datasets.py``.

    Args:
        data_root (str): Folder holding ``cifar-100-python``.
        check_md5 (bool): Verify the official checksums. Defaults to True.
        **kwargs: Other arguments of mmpretrain's ``CIFAR100``.
    """

    def __init__(self,
                 data_root: str = '',
                 check_md5: bool = True,
                 **kwargs) -> None:
        folder = osp.join(data_root, self.base_folder)
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'dataset.data_root: "{folder}" does not exist. Put the '
                'CIFAR-100 python version there (cifar-100-python/train, '
                'test, meta) or set data_root, e.g. --cfg-options '
                'train_dataloader.dataset.data_root=... '
                'val_dataloader.dataset.data_root=...')
        if not check_md5:
            self.train_list = [[name, None] for name, _ in self.train_list]
            self.test_list = [[name, None] for name, _ in self.test_list]
            self.meta = dict(self.meta, md5=None)
        super().__init__(data_root=data_root, download=False, **kwargs)
