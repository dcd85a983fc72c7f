"""Filesystem primitives for crash-safe writes: fsync, atomic replace, hashing, locks."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from model_repo.errors import ArtifactError

_CHUNK = 1 << 20
# Removal failures that mean "not ours to remove" or "already gone", not a bug.
_REMOVE_IGNORED = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT)


def fsync_path(path: Path) -> None:
    """Flush a file or a directory entry list to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under `root`, children before parents."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for filename in filenames:
            fsync_path(Path(dirpath) / filename)
        fsync_path(Path(dirpath))


def make_dirs(path: Path) -> None:
    """`mkdir -p` whose new entries survive a crash: each created dir's parent is fsynced.

    A rename into a new directory is only durable once the directory's own entry is.
    """
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    path.mkdir(parents=True, exist_ok=True)
    for created in reversed(missing):
        fsync_path(created.parent)


def current_umask() -> int:
    """The process umask, read without changing it (`os.umask` would race other threads)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: the only portable way, briefly
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new content, never half."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes 0600 files; published files should read like any other file.
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def remove_quietly(path: Path) -> None:
    """Remove a file or tree; one we may not remove, or one already gone, is left alone."""
    try:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    except OSError as exc:
        if exc.errno not in _REMOVE_IGNORED:
            raise


def is_recent(path: Path, seconds: float) -> bool:
    """True when `path` was modified less than `seconds` ago, or is gone meanwhile."""
    try:
        return time.time() - path.lstat().st_mtime < seconds
    except FileNotFoundError:
        return True  # nothing left to clean


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def hash_tree(root: Path, exclude: frozenset[str] = frozenset()) -> dict[str, str]:
    """sha256 of every regular file under `root`, keyed by POSIX path relative to it.

    A symlink is refused, not followed or skipped: what is hashed must be what is stored.
    """
    hashes: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel in exclude:
            continue
        # Before is_dir(), which follows links: a linked dir would be skipped unhashed.
        if path.is_symlink():
            raise ArtifactError(f"{path} is a symbolic link; artifacts may hold only files")
        if path.is_dir():
            continue
        if not path.is_file():
            raise ArtifactError(f"{path} is not a regular file; artifacts may hold only files")
        hashes[rel] = sha256_file(path)
    return hashes


def acquire_lock(path: Path) -> int:
    """Wait for an exclusive flock on `path` (created if needed); the fd that holds it.

    The kernel drops the lock when the fd is closed or the process dies, however it dies.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    fd = acquire_lock(path)
    try:
        yield
    finally:
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """Take an exclusive flock without waiting; the fd holding it, or None if it is held
    or `path` cannot exist (its parent is gone or is not a directory)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
