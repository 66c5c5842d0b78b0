"""ExportPeerHook writes the deployable peer as a plain checkpoint, never
over an existing file and never with non-finite weights."""
import os.path as osp

import pytest
import torch

from mmokd.engine.hooks import ExportPeerHook
from mmokd.utils import load_checkpoint_safely
from tests.test_engine.engine_stubs import StubRunner, dml_model


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
