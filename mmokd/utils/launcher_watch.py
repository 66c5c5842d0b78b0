"""Training and test processes exit when the launcher that started them
dies."""
import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def _set_parent_death_signal() -> bool:
    """Asks Linux to send SIGKILL to this process when its parent dies.

    Returns:
        bool: Whether the kernel accepted the request (False elsewhere).
    """
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_if_orphaned(launcher: int) -> None:
    """Ends the process at once when its parent is no longer ``launcher``.

    Args:
        launcher (int): The launcher's pid.
    """
    if os.getppid() != launcher:
        sys.stderr.write(f'mmokd: launcher (pid {launcher}) is gone; '
                         f'process {os.getpid()} exits.\n')
        sys.stderr.flush()
        os._exit(1)


def _watch(launcher: int) -> None:
    """Polls the parent pid until the launcher is gone.

    Args:
        launcher (int): The launcher's pid.
    """
    while True:
        _exit_if_orphaned(launcher)
        time.sleep(POLL_SECONDS)


def exit_with_launcher() -> None:
    """Ties a process started by torchrun to its launcher.

    torchrun starts every worker in a session of its own, so when the
    launcher is killed with SIGKILL (no chance to stop its workers), the
    workers used to train on, orphaned, still writing checkpoints. Call
    this first thing in a training or test script: under torchrun (the
    ``TORCHELASTIC_RUN_ID`` variable is set) the process then dies with its
    launcher, through ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` on Linux, or a
    daemon thread polling the parent pid every second elsewhere. Processes
    started otherwise (a plain ``python tools/train.py``, Slurm's ``srun``)
    are left alone: they may legitimately outlive their shell (``nohup``).
    """
    if 'TORCHELASTIC_RUN_ID' not in os.environ:
        return
    launcher = os.getppid()
    if not _set_parent_death_signal():
        threading.Thread(
            target=_watch,
            args=(launcher, ),
            name='mmokd-launcher-watch',
            daemon=True).start()
    # The launcher may have died before the request took effect.
    _exit_if_orphaned(launcher)
