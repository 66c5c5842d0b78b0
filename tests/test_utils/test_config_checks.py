"""Config checks run by tools/train.py before anything is built."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmokd.utils import check_views
from tests.conftest import REPO

MULTI_VIEW_CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs/kdcl/*.py')) +
    glob.glob(osp.join(REPO, 'configs/adm/kdcl_*.py')) +
    glob.glob(osp.join(REPO, 'configs/dml/*.py')))
KDCL_CIFAR = osp.join(REPO, 'configs/kdcl/resnet32x4_resnet8x4_cifar100.py')
KDCL_SEG = osp.join(REPO, 'configs/kdcl/deeplabv3_r101_r18_cityscapes.py')
DML_CIFAR = osp.join(REPO, 'configs/dml/resnet32x4_resnet8x4_cifar100.py')
DML_SEG = osp.join(REPO, 'configs/dml/deeplabv3_r101_r18_cityscapes.py')


@pytest.mark.parametrize(
    'path',
    MULTI_VIEW_CONFIGS,
    ids=[osp.relpath(p, REPO) for p in MULTI_VIEW_CONFIGS])
def test_shipped_configs_pass(path):
    check_views(Config.fromfile(path))


@pytest.mark.parametrize('path', [KDCL_CIFAR, KDCL_SEG])
def test_single_view_preprocessor_with_views_is_refused(path):
    cfg = Config.fromfile(path)
    cfg.data_preprocessor = dict(type='mmpretrain.ClsDataPreprocessor')
    cfg.model.pop('data_preprocessor', None)
    with pytest.raises(ValueError, match='model.data_preprocessor: '):
        check_views(cfg)


def test_view_counts_must_match_preprocessor_and_networks():
    cfg = Config.fromfile(KDCL_CIFAR)
    cfg.data_preprocessor.num_views = 3
    with pytest.raises(ValueError, match='num_views is 3'):
        check_views(cfg)
    cfg.data_preprocessor.num_views = 3
    cfg.train_dataloader.dataset.pipeline[0].num_views = 3
    with pytest.raises(ValueError, match=r'for 2 networks \(model.peers'):
        check_views(cfg)


@pytest.mark.parametrize('kdcl, dml', [(KDCL_CIFAR, DML_CIFAR),
                                       (KDCL_SEG, DML_SEG)])
def test_pipeline_set_like_dml_drops_views_and_is_refused(kdcl, dml):
    """A user sets KDCL's train pipeline the way a DML config does: the
    MultiView wrapper is gone, so both networks would see one view."""
    cfg = Config.fromfile(kdcl)
    cfg.train_dataloader.dataset.pipeline = Config.fromfile(
        dml).train_dataloader.dataset.pipeline
    with pytest.raises(ValueError) as error:
        check_views(cfg)
    message = str(error.value)
    assert message.startswith('train_dataloader.dataset.pipeline: ')
    assert 'num_views=2' in message and 'MultiView' in message
    assert 'model.data_preprocessor.num_views=1' in message


def test_one_shared_view_on_purpose_passes():
    cfg = Config.fromfile(KDCL_CIFAR)
    cfg.train_dataloader.dataset.pipeline = Config.fromfile(
        DML_CIFAR).train_dataloader.dataset.pipeline
    cfg.data_preprocessor.num_views = 1
    check_views(cfg)
