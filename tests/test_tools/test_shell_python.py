"""The shell tools run the project's environment when PYTHON is unset."""
import os
import stat

import pytest

from tests.conftest import run_tool

# A stand-in interpreter: records how it was called; with FAIL_TORCH set it
# fails ``-c 'import torch'`` as a python without torch would.
RECORDER = """#!/usr/bin/env bash
if [[ "$1" == "-c" && -n "$FAIL_TORCH" ]]; then exit 1; fi
echo "$0 $*" >> "$RECORD"
"""


def write_executable(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def tool_env(tmp_path, **extra):
    """No PYTHON, the venv at ``tmp_path/venv``, a recording ``python3``
    and ``srun`` first on PATH."""
    bin_dir = tmp_path / 'bin'
    write_executable(bin_dir / 'python3', RECORDER)
    write_executable(bin_dir / 'srun', RECORDER)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON'}
    env.update(
        MMOKD_VENV=str(tmp_path / 'venv'),
        RECORD=str(tmp_path / 'record.txt'),
        PATH=f"{bin_dir}:{env['PATH']}",
        **extra)
    return env


def recorded(tmp_path):
    return (tmp_path / 'record.txt').read_text().splitlines()


COMMANDS = {
    'dist_train': (['tools/dist_train.sh', 'cfg.py', '2', '--amp'],
                   ' -m torch.distributed.run --nnodes=1 --node_rank=0 '
                   '--master_addr=127.0.0.1 --nproc_per_node=2 '
                   '--master_port=29500 tools/train.py cfg.py --launcher '
                   'pytorch --amp'),
    'dist_test': (['tools/dist_test.sh', 'cfg.py', 'ckpt.pth', '2'],
                  ' -m torch.distributed.run --nnodes=1 --node_rank=0 '
                  '--master_addr=127.0.0.1 --nproc_per_node=2 '
                  '--master_port=29500 tools/test.py cfg.py ckpt.pth '
                  '--launcher pytorch'),
    'slurm_train': (['tools/slurm_train.sh', 'part', 'job', 'cfg.py', 'w'],
                    ' -u tools/train.py cfg.py --work-dir=w '
                    '--launcher=slurm'),
}


@pytest.mark.parametrize('tool', sorted(COMMANDS))
def test_unset_python_picks_the_project_venv(tmp_path, tool):
    venv_python = write_executable(tmp_path / 'venv/bin/python', RECORDER)
    (tmp_path / 'venv/.mmokd-stamp').write_text('stamp')
    args, expected = COMMANDS[tool]
    proc = run_tool(['bash'] + args, env=tool_env(tmp_path, PORT='29500'))
    assert proc.returncode == 0, proc.stderr
    line = recorded(tmp_path)[-1]
    assert line.startswith(
        venv_python if tool != 'slurm_train' else f'{tmp_path}/bin/srun')
    assert line.endswith(
        expected if tool != 'slurm_train' else venv_python + expected)


def test_incomplete_venv_falls_back_to_python3_with_torch(tmp_path):
    write_executable(tmp_path / 'venv/bin/python', RECORDER)  # no stamp
    proc = run_tool(['bash', 'tools/dist_train.sh', 'cfg.py', '2'],
                    env=tool_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert recorded(tmp_path)[-1].startswith(
        f'{tmp_path}/bin/python3 -m torch.distributed.run')


def test_no_environment_says_how_to_set_it_up(tmp_path):
    proc = run_tool(['bash', 'tools/dist_train.sh', 'cfg.py', '2'],
                    env=tool_env(tmp_path, FAIL_TORCH='1'))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f'dist_train.sh: no mmokd environment at {tmp_path}/venv and '
        "python3 cannot import torch. Run 'bash tools/setup_env.sh' "
        '(MMOKD_VENV moves the environment), or set PYTHON to an '
        'interpreter with torch and the OpenMMLab packages.')
    assert not (tmp_path / 'record.txt').exists()
