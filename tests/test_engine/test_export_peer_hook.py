"""ExportPeerHook writes the deployable peer as a plain checkpoint with
its plain config beside it, never over an existing file and never with
non-finite weights."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mmokd.engine.hooks import ExportPeerHook
from mmokd.registry import MODELS
from mmokd.utils import load_checkpoint_safely
from tests.test_engine.engine_stubs import StubRunner, dml_model
from tests.toy_models import dml_config


def test_exports_the_student_under_plain_keys(tmp_path):
    model = dml_model()
    runner = StubRunner(model, str(tmp_path))
    ExportPeerHook().after_train(runner)
    saved = load_checkpoint_safely(str(tmp_path / 'student.pth'))
    expected = model.student.state_dict()
    assert saved['state_dict'].keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(saved['state_dict'][key], value), key
    assert saved['meta']['exported_peer'] == 'student'
    assert (saved['meta']['iter'], saved['meta']['epoch']) == (4, 1)
    assert saved['meta']['dataset_meta'] == dict(classes=('a', 'b'))


def test_exports_another_peer(tmp_path):
    model = dml_model()
    ExportPeerHook(peer='teacher').after_train(
        StubRunner(model, str(tmp_path)))
    saved = load_checkpoint_safely(str(tmp_path / 'teacher.pth'))
    assert saved['state_dict'].keys() == model.teacher.state_dict().keys()


def test_never_overwrites(tmp_path):
    existing = tmp_path / 'student.pth'
    existing.write_bytes(b'user data')
    with pytest.raises(FileExistsError):
        ExportPeerHook().after_train(StubRunner(dml_model(), str(tmp_path)))
    assert existing.read_bytes() == b'user data'


def test_refuses_non_finite_weights(tmp_path):
    model = dml_model()
    with torch.no_grad():
        model.student.head.fc.weight[0, 0] = float('nan')
    with pytest.raises(FloatingPointError, match='non-finite'):
        ExportPeerHook().after_train(StubRunner(model, str(tmp_path)))
    assert not osp.exists(tmp_path / 'student.pth')


def test_writes_the_peer_config_the_checkpoint_loads_into(tmp_path):
    """An inline peer: its network config (with model.num_classes
    applied) as the plain config's model."""
    cfg = Config(dict(model=dml_config(num_classes=7)))
    cfg.model.num_classes = 5
    model = MODELS.build(cfg.model)
    ExportPeerHook(peer='teacher').after_train(
        StubRunner(model, str(tmp_path), cfg))
    plain = Config.fromfile(str(tmp_path / 'teacher.py'))
    assert plain.model.head.num_classes == 5
    assert plain.model.backbone.base_channels == 16  # the teacher's
    network = MODELS.build(plain.model)
    load_checkpoint(network, str(tmp_path / 'teacher.pth'), strict=True)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(network.state_dict()[key], value), key


def test_external_model_peer_config_is_its_file_with_options(tmp_path):
    """An ExternalModel peer: the whole file (datasets included) with
    cfg_options applied, as ExternalModel loads it."""
    from mmokd.utils.export import plain_peer_config
    path = 'mmpretrain::resnet/resnet18_8xb16_cifar10.py'
    peer = dict(type='mmokd.ExternalModel', cfg_path=path,
                cfg_options={'model.backbone.depth': 34})
    plain = plain_peer_config(
        dict(peers=dict(student=peer), num_classes=3), 'student')
    assert plain.model.backbone.depth == 34
    assert plain.model.head.num_classes == 3
    assert plain.test_dataloader.dataset.type == 'CIFAR10'
    assert plain_peer_config(dict(peers=dict(student=peer)), 'x') is None


def test_never_overwrites_a_config(tmp_path):
    existing = tmp_path / 'student.py'
    existing.write_text('user = 1\n')
    runner = StubRunner(dml_model(), str(tmp_path),
                        Config(dict(model=dml_config())))
    with pytest.raises(FileExistsError, match='student.py'):
        ExportPeerHook().after_train(runner)
    assert existing.read_text() == 'user = 1\n'
    assert not osp.exists(tmp_path / 'student.pth')  # nothing written
