"""One live run per work_dir: a lock file taken before anything is
written."""
import atexit
import errno
import json
import os
import os.path as osp
import socket
import sys
import time
import warnings
from typing import Optional

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = '.mmokd.lock'
# Launcher name -> environment variable holding the global rank before the
# process group exists.
RANK_VARIABLES = dict(
    pytorch='RANK', slurm='SLURM_PROCID', mpi='OMPI_COMM_WORLD_RANK')


class WorkDirLockedError(RuntimeError):
    """Raised when another live run holds the work_dir."""


def _describe(owner: dict) -> str:
    """Says which process an owner record names."""
    if not owner:
        return 'a process that has not written its details yet'
    text = f"pid {owner.get('pid')} on host {owner.get('host')}"
    if owner.get('launcher_pid'):
        text += f" (launcher pid {owner['launcher_pid']})"
    return (f"{text}, started {owner.get('started')}, command: "
            f"{owner.get('command')}")


def _read_owner(fd: int) -> dict:
    """The owner record in an open lock file ({} when empty)."""
    text = os.pread(fd, 1 << 16, 0).decode('utf-8', 'replace').strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return dict(command=text)


class WorkDirLock:
    """An exclusive lock on ``<work_dir>/.mmokd.lock``.

    The lock is a POSIX record lock (``fcntl.lockf``): the kernel releases
    it when its process dies however it dies (also on SIGKILL), and it is
    not inherited by forked dataloader workers. The file holds the owner's
    pid, host, launcher pid, start time and command, so a refused run says
    who holds the work_dir. A file left by a run that died without
    releasing it is a stale lock: it is taken over with a warning naming
    that run. Releasing removes the file; nothing else in the work_dir is
    touched.

    Args:
        work_dir (str): The run's work_dir (created if absent).
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd: Optional[int] = None

    def _owner_record(self) -> dict:
        """What this process writes into the lock file."""
        launcher = os.getppid() if 'TORCHELASTIC_RUN_ID' in os.environ \
            else None
        return dict(
            pid=os.getpid(),
            launcher_pid=launcher,
            host=socket.gethostname(),
            started=time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()),
            command=' '.join([sys.executable] + sys.argv))

    def _open_locked(self) -> int:
        """Opens the lock file and locks it, retrying if the holder removed
        the file in between.

        Returns:
            int: A descriptor of the locked file.

        Raises:
            WorkDirLockedError: If a live process holds the lock.
        """
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EACCES, errno.EAGAIN):
                    os.close(fd)
                    raise
                holder = _describe(_read_owner(fd))
                os.close(fd)
                raise WorkDirLockedError(
                    f'work_dir "{self.work_dir}" is in use by a live run: '
                    f'{holder}. Wait for it to end or stop it, or train in '
                    'another --work-dir.') from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def acquire(self) -> None:
        """Takes the lock (taking over a stale one with a warning) and
        releases it when the interpreter exits.

        Raises:
            WorkDirLockedError: If a live process holds the lock.
        """
        os.makedirs(self.work_dir, exist_ok=True)
        fd = self._open_locked()
        stale = _read_owner(fd)
        if stale:
            warnings.warn(
                f'work_dir "{self.work_dir}": taking over the lock of a run '
                f'that ended without releasing it ({_describe(stale)}).')
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self._owner_record()).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        atexit.register(self.release)

    def release(self) -> None:
        """Removes the lock file and unlocks (no-op if not held)."""
        if self._fd is None:
            return
        try:
            # Only this lock's file: it may have been deleted by hand and
            # re-created by another run since.
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                os.remove(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None
        atexit.unregister(self.release)


def global_rank(launcher: str) -> int:
    """This process's global rank before the process group exists.

    Args:
        launcher (str): ``none``, ``pytorch``, ``slurm`` or ``mpi``.

    Returns:
        int: The rank the launcher assigned (0 without one).
    """
    variable = RANK_VARIABLES.get(launcher)
    return int(os.environ.get(variable, 0)) if variable else 0


def hold_work_dir(work_dir: str, launcher: str) -> Optional[WorkDirLock]:
    """Takes the work_dir for this run on global rank 0 until it exits.

    Call it after the config checks and before the runner is built, so a
    refused run writes nothing (no log folder, no config dump). The other
    ranks take nothing: when rank 0 refuses and exits, the launcher
    (torchrun, ``srun --kill-on-bad-exit``, mpirun) stops them.

    Args:
        work_dir (str): The run's work_dir.
        launcher (str): The ``--launcher`` of the run.

    Returns:
        WorkDirLock, optional: The held lock on rank 0; None on the other
        ranks and where the platform or file system has no file locks (a
        warning says so).

    Raises:
        WorkDirLockedError: Naming the live run that holds the work_dir.
    """
    if global_rank(launcher) != 0:
        return None
    if fcntl is None:
        warnings.warn('No file locks on this platform: the work_dir is not '
                      'protected against a second run writing into it.')
        return None
    lock = WorkDirLock(work_dir)
    try:
        lock.acquire()
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
            raise
        warnings.warn(f'The file system of "{work_dir}" has no file locks '
                      f'({error}): the work_dir is not protected against a '
                      'second run writing into it.')
        return None
    return lock
