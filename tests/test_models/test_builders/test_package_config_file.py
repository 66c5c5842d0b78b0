"""``package_config_file`` finds the file ``mmengine.hub.get_config``
loads, without parsing the package's metafiles."""
import os.path as osp

import pytest
from mmengine.config.utils import _get_cfg_metainfo
from mmengine.utils import get_installed_path

from mmokd.models.builders.external_model import package_config_file


@pytest.mark.parametrize('cfg_path', [
    'mmpretrain::resnet/resnet18_8xb32_in1k.py',
    'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
])
def test_same_file_as_the_package_metafiles_name(cfg_path):
    package, relative = cfg_path.split('::')
    root = get_installed_path(package)
    listed = _get_cfg_metainfo(root, relative)['Config']
    assert package_config_file(cfg_path) == osp.join(root, '.mim', listed)


def test_base_config_without_a_metafile_entry():
    path = package_config_file('mmdet::_base_/datasets/coco_detection.py')
    assert path.endswith('mmdet/.mim/configs/_base_/datasets/'
                         'coco_detection.py') and osp.isfile(path)


@pytest.mark.parametrize('cfg_path, named', [
    ('mmseg::pspnet/no_such_config.py', 'no_such_config.py'),
    ('mmnothing::a/b.py', '"mmnothing", which is not installed'),
])
def test_unknown_config_names_the_field(cfg_path, named):
    with pytest.raises(FileNotFoundError) as error:
        package_config_file(cfg_path)
    assert 'ExternalModel.cfg_path' in str(error.value)
    assert named in str(error.value)
