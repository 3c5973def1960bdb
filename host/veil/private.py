"""The one rule for files that hold a secret (the home key, a board's key.bin and secrets.json,
broker passwords and TLS keys): mode 0600, in a folder of mode 0700, wherever they are written.

`write_private()` writes such a file (whole or not at all: a temporary name, then a rename),
`private_dir()` makes a folder private, and `scratch()` gives a private temporary folder for
work that puts secrets on disk for a while (a staged provisioning set, a virtual board's
flash). Scratch folders live under one per-user folder of mode 0700; one whose process was
killed before it could clean up is removed by the next `scratch()`, so a secret left by a
`kill -9` stays readable to its owner only, and not for long.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import VeilError

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | os.PathLike) -> Path:
    """`path` as a folder only its owner can enter (created if need be, parents included)."""
    path = Path(path)
    try:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
            path.chmod(DIR_MODE)
    except OSError as e:
        raise VeilError(f"cannot make {path} a private folder: {e.strerror}") from None
    return path


def write_private(path: str | os.PathLike, data: bytes, *, replace: bool = True) -> None:
    """Write a secret file: mode 0600 from its creation on, in a private folder, put in place
    whole (a crash leaves the old file or the new one, never a part). With `replace` False an
    existing file is kept and FileExistsError raised."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # whatever the umask
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file exists, whoever made it in the meantime
            tmp.unlink()
    except FileExistsError:
        tmp.unlink()
        raise
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise VeilError(f"cannot write {path}: {e.strerror}") from None


def scratch_root() -> Path:
    """The per-user folder that holds every scratch folder: 0700 and the user's own (one
    made by someone else, or a link, could let them read what is put in it)."""
    root = Path(tempfile.gettempdir()) / f"veil-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=DIR_MODE)
    st = root.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise VeilError(f"{root} is not a folder of yours: remove it, then try again")
    if stat.S_IMODE(st.st_mode) != DIR_MODE:
        root.chmod(DIR_MODE)
    return root


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A private temporary folder named for this process, removed on exit; folders left by
    processes that no longer run are removed first."""
    root = scratch_root()
    for old in root.iterdir():
        pid = old.name.rpartition("-")[0].rpartition("-")[2]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}-{os.getpid()}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
