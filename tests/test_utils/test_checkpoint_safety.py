"""Hostile checkpoints are refused by every loading path; real ones load.

Each hostile file writes a marker file if its payload runs; every test
asserts the marker is absent. The payloads that ran under the previous
allow-list (``builtins.getattr`` allowed) are shown to be live first, so
these tests would have caught that hole.
"""
import contextlib
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.runner import CheckpointLoader

from mmokd.utils import (CheckpointRefusedError, export_peer,
                         load_checkpoint_safely)
from tests.conftest import REPO, python, run_tool
from tests.hostile_checkpoints import (PAYLOADS, unsafe_load,
                                       write_hostile_checkpoint)
from tests.test_tools.test_train_e2e import cls_config

#: Payloads that run code when ``getattr`` is allow-listed.
LIVE_UNDER_GETATTR = ('getattr_rebuild_from_type_v2',
                      'getattr_rebuild_parameter_with_state')


@pytest.fixture(params=sorted(PAYLOADS))
def hostile(request, tmp_path):
    """(path, marker) of one hostile checkpoint."""
    marker = str(tmp_path / 'marker')
    path = write_hostile_checkpoint(
        str(tmp_path / f'{request.param}.pth'), request.param, marker)
    return path, marker


@pytest.mark.parametrize('payload', LIVE_UNDER_GETATTR)
def test_payload_runs_when_getattr_is_allowed(tmp_path, payload):
    marker = str(tmp_path / 'marker')
    path = write_hostile_checkpoint(str(tmp_path / 'x.pth'), payload, marker)
    with contextlib.suppress(Exception):  # the payload may break the rest
        unsafe_load(path)
    assert osp.exists(marker)


def test_loader_refuses(hostile):
    path, marker = hostile
    with pytest.raises(CheckpointRefusedError, match='Refused to load'):
        load_checkpoint_safely(path)
    assert not osp.exists(marker)


def test_mmengine_loader_refuses(hostile):
    """``resume``, ``load_from``, ``init_cfg`` and ``tools/test.py`` read
    local files through mmengine's ``CheckpointLoader``."""
    path, marker = hostile
    with pytest.raises(CheckpointRefusedError, match='Refused to load'):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert not osp.exists(marker)


def test_export_refuses(hostile, tmp_path):
    path, marker = hostile
    out = str(tmp_path / 'student.pth')
    with pytest.raises(CheckpointRefusedError):
        export_peer(path, out)
    assert not osp.exists(marker)
    assert not osp.exists(out)


def test_gpd_student_and_teacher_checkpoints_refused(hostile):
    from tests.test_models.test_algorithms.test_gpd import (build,
                                                            teacher_kwargs)
    path, marker = hostile
    with pytest.raises(CheckpointRefusedError):
        build(student_ckpt=path).init_weights()
    with pytest.raises(CheckpointRefusedError):
        build(**teacher_kwargs(teacher_ckpt=path)).init_weights()
    assert not osp.exists(marker)


def test_import_does_not_widen_torchs_allow_list(tmp_path):
    """``import mmokd`` leaves torch's global allow-list as its
    dependencies set it, and plain ``torch.load`` still refuses mmengine
    objects afterwards."""
    from mmengine.logging import HistoryBuffer
    check = (
        'import torch, mmengine.runner, mmseg.models, mmpretrain.models\n'
        'before = list(torch.serialization.get_safe_globals())\n'
        'import mmokd\n'
        'assert torch.serialization.get_safe_globals() == before\n'
        'print("unchanged", len(before))\n')
    proc = run_tool([python(), '-c', check])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'unchanged' in proc.stdout
    path = str(tmp_path / 'hub.pth')
    torch.save({'buffer': HistoryBuffer([1.0], [1])}, path)
    with pytest.raises(Exception, match='HistoryBuffer'):
        torch.load(path, weights_only=True)
    restored = load_checkpoint_safely(path)['buffer']
    assert restored.mean() == 1.0


def test_history_buffer_statistics_lookup_is_exact(tmp_path):
    """A checkpoint that references ``HistoryBuffer.mean`` by name (what
    pickle protocol 2 writes) loads; the lookup returns that method."""
    from mmengine.logging import HistoryBuffer
    from tests.hostile_checkpoints import Lookup
    path = str(tmp_path / 'stat.pth')
    torch.save({'method': Lookup(HistoryBuffer, 'mean')}, path)
    assert load_checkpoint_safely(path)['method'] is HistoryBuffer.mean


@pytest.mark.parametrize(
    'content', [
        b'', b'\x00\x01 not a checkpoint \xff' * 64, b'PK\x03\x04',
        b'\x80\x02}q\x00.'
    ])
def test_not_a_checkpoint(tmp_path, content):
    path = tmp_path / 'broken.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointRefusedError) as error:
        load_checkpoint_safely(str(path))
    message = str(error.value)
    assert 'not a valid PyTorch checkpoint' in message
    assert 'weights_only' not in message


def test_truncated_checkpoint(tmp_path):
    path = str(tmp_path / 'cut.pth')
    torch.save({'state_dict': {'w': torch.ones(1000)}}, path)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    with pytest.raises(CheckpointRefusedError, match='not a valid'):
        load_checkpoint_safely(path)


def test_meta_config_text_is_never_executed(tmp_path):
    """mmengine's ``Runner.resume`` executes ``meta['config']``; the loader
    drops it."""
    marker = str(tmp_path / 'marker')
    path = str(tmp_path / 'cfg.pth')
    config = f'import os\nos.system("touch {marker}")\ngpu_ids = [0]\n'
    torch.save({'meta': {'config': config, 'epoch': 0}}, path)
    checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert 'config' not in checkpoint['meta']
    assert checkpoint['meta']['epoch'] == 0
    assert not osp.exists(marker)


def tool_env():
    """Environment of a single-process tool run from the repository."""
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)


@pytest.fixture(scope='module')
def config(tmp_path_factory, tiny_cifar100):
    """A tiny DML classification config (1 epoch)."""
    return cls_config(tmp_path_factory.mktemp('config'), tiny_cifar100)


@pytest.fixture(scope='module')
def trained(tmp_path_factory, config):
    """A 1-epoch DML run: its config and real checkpoint."""
    cfg = config
    work_dir = str(tmp_path_factory.mktemp('trained') / 'work')
    proc = run_tool(
        [python(), 'tools/train.py', cfg, '--work-dir', work_dir],
        env=tool_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cfg, osp.join(work_dir, 'epoch_1.pth')


@pytest.fixture
def live_hostile(tmp_path):
    """The payload that ran through every tool before the fix."""
    marker = str(tmp_path / 'marker')
    path = write_hostile_checkpoint(
        str(tmp_path / 'hostile.pth'), 'getattr_rebuild_from_type_v2',
        marker)
    return path, marker


def tool_command(tool, cfg, checkpoint, tmp_path):
    """Command line of ``tool`` reading ``checkpoint``."""
    work_dir = str(tmp_path / 'work')
    if tool == 'resume':
        return [python(), 'tools/train.py', cfg, '--work-dir', work_dir,
                '--resume', checkpoint]
    if tool == 'load_from':
        return [python(), 'tools/train.py', cfg, '--work-dir', work_dir,
                '--cfg-options', f'load_from={checkpoint}']
    if tool == 'test':
        return [python(), 'tools/test.py', cfg, checkpoint,
                '--work-dir', work_dir]
    if tool == 'export':
        return [python(), 'tools/model_converters/export_peer.py',
                checkpoint, str(tmp_path / 'student.pth')]
    images = sorted(glob.glob(osp.join(tmp_path, '*.png')))
    return [python(), 'tools/visualizations/vis_adm_maps.py',
            osp.join(REPO, 'configs/adm/resnet32x4_resnet8x4_cifar100.py'),
            '--checkpoint', checkpoint, '--images', *images,
            '--out-dir', str(tmp_path / 'maps')]


@pytest.mark.parametrize(
    'tool', ['resume', 'load_from', 'test', 'export', 'vis_adm_maps'])
def test_tools_refuse(tool, config, live_hostile, tmp_path):
    from PIL import Image
    Image.new('RGB', (32, 32)).save(str(tmp_path / 'image.png'))
    path, marker = live_hostile
    proc = run_tool(
        tool_command(tool, config, path, tmp_path),
        env=tool_env())
    assert proc.returncode != 0
    assert 'Refused to load checkpoint' in proc.stderr, proc.stderr[-2000:]
    assert 'weights_only=False' not in proc.stderr
    assert not osp.exists(marker)
    assert not osp.exists(tmp_path / 'student.pth')


def test_real_checkpoint_resumes_without_running_its_config(
        trained, tmp_path):
    """A real mmokd checkpoint, with hostile text in ``meta['config']``,
    resumes (message hub, optimizers, weights) and loads as ``load_from``
    (``tools/test.py``); the text never runs."""
    cfg, checkpoint = trained
    marker = str(tmp_path / 'marker')
    state = load_checkpoint_safely(checkpoint)
    assert state['message_hub']['log_scalars']
    state['meta']['config'] = f'import os\nos.system("touch {marker}")\n'
    hostile_meta = str(tmp_path / 'epoch_1.pth')
    torch.save(state, hostile_meta)
    env = tool_env()
    resumed = run_tool([
        python(), 'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'resume'), '--resume', hostile_meta, '--cfg-options',
        'train_cfg.max_epochs=2'
    ], env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 1' in resumed.stdout + resumed.stderr
    assert osp.exists(tmp_path / 'resume' / 'epoch_2.pth')
    tested = run_tool([
        python(), 'tools/test.py', cfg, hostile_meta, '--work-dir',
        str(tmp_path / 'test')
    ], env=env)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert 'Load checkpoint from' in tested.stdout + tested.stderr
    assert 'accuracy/top1' in tested.stdout + tested.stderr
    assert not osp.exists(marker)
