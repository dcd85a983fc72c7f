"""Unpack an uploaded .zip or .tar.gz without trusting anything inside it.

Refused: absolute paths, `..` components, symbolic and hard links, device files, FIFOs and
anything else that is not a plain file or directory; two members at one path; more than
`max_files` members; more than `max_bytes` unpacked (counted while writing, since headers can
lie about sizes). A corrupt or truncated archive (whatever the decompressor raises: `zlib.error`,
`EOFError`, `lzma.LZMAError`, `gzip.BadGzipFile`, `tarfile.ReadError`, `zipfile.BadZipFile`, a
bad CRC) is an `InvalidInput` too; a compressed tar is read to its end, so its checksum is
checked even where the tar stops early. Only errors writing to `dest` itself (a full disk)
stay what they are: the server's problem, not the upload's.
"""

from __future__ import annotations

import lzma
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from gateway.errors import InvalidInput, PayloadTooLarge

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
# What reading a damaged archive raises. OSError covers gzip.BadGzipFile and bz2's "Invalid
# data stream"; NotImplementedError an unsupported zip method; RuntimeError an encrypted zip
# member; UnicodeDecodeError a zip name flagged UTF-8 that is not.
_UNREADABLE = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
)
# Two members at one path, or a file member where a directory member needs to be.
_CLASH = (FileExistsError, NotADirectoryError, IsADirectoryError)


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int = 4 << 30
    max_files: int = 10_000


def is_archive(filename: str) -> bool:
    return filename.lower().endswith(ARCHIVE_SUFFIXES)


def extract(archive: Path, dest: Path, limits: ArchiveLimits) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    budget = _Budget(archive.name, limits, "zip" if _is_zip(archive) else "tar")
    if _is_zip(archive):
        _extract_zip(archive, dest, budget)
    else:
        _extract_tar(archive, dest, budget)


def _is_zip(archive: Path) -> bool:
    return archive.name.lower().endswith(".zip")


@contextmanager
def _reading(archive: str, kind: str) -> Iterator[None]:
    """Turn what a damaged archive makes the decoder raise into the upload's own error."""
    try:
        yield
    except _UNREADABLE as exc:
        detail = str(exc) or type(exc).__name__
        raise InvalidInput(
            f"{archive} is not a readable {kind} archive (corrupt or truncated?): {detail}"
        ) from None


class _Budget:
    def __init__(self, archive: str, limits: ArchiveLimits, kind: str) -> None:
        self.archive = archive
        self.kind = kind
        self.limits = limits
        self.files = 0
        self.bytes = 0

    def member(self) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise PayloadTooLarge(
                f"{self.archive} holds more than {self.limits.max_files} members; refused"
            )

    def spend(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.limits.max_bytes:
            raise PayloadTooLarge(
                f"{self.archive} unpacks to more than {self.limits.max_bytes} bytes; refused"
            )


def _target(dest: Path, name: str, archive: str) -> Path:
    """Where member `name` goes, refusing any name that could land outside `dest`."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        raise InvalidInput(f"{archive}: member {name!r} has an absolute path; refused")
    parts = [p for p in PurePosixPath(posix).parts if p not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(f"{archive}: member {name!r} climbs out with '..'; refused")
    return dest.joinpath(*parts)  # `dest` itself for "." (tar -C dir .)


def _write(source: IO[bytes], target: Path, budget: _Budget) -> None:
    if target.is_dir():
        raise InvalidInput(f"{budget.archive}: file member {target.name!r} names a directory")
    _mkdir(target.parent, budget)
    try:
        out = target.open("xb")
    except _CLASH:
        raise _clash(target, budget) from None
    with out:
        while True:
            with _reading(budget.archive, budget.kind):
                chunk = source.read(_CHUNK)
            if not chunk:
                return
            budget.spend(len(chunk))
            out.write(chunk)


def _mkdir(target: Path, budget: _Budget) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
    except _CLASH:
        raise _clash(target, budget) from None


def _clash(target: Path, budget: _Budget) -> InvalidInput:
    return InvalidInput(
        f"{budget.archive}: member {target.name!r} clashes with another member at that path"
    )


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    with _reading(archive.name, "zip"):
        zf = zipfile.ZipFile(archive)
    with zf:
        for info in zf.infolist():
            budget.member()
            target = _target(dest, info.filename, archive.name)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise InvalidInput(f"{archive.name}: member {info.filename!r} is a link")
            if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise InvalidInput(
                    f"{archive.name}: member {info.filename!r} is not a regular file"
                )
            if info.is_dir():
                _mkdir(target, budget)
                continue
            with _reading(archive.name, "zip"):
                source = zf.open(info)
            with source:
                _write(source, target, budget)


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> None:
    with _reading(archive.name, "tar"):
        tf = tarfile.open(archive, "r:*")  # noqa: SIM115 - opening is what may fail
    with tf:
        for member in _members(tf, archive.name):
            budget.member()
            target = _target(dest, member.name, archive.name)
            if member.issym() or member.islnk():
                raise InvalidInput(f"{archive.name}: member {member.name!r} is a link")
            if member.isdir():
                _mkdir(target, budget)
                continue
            if not member.isreg() or member.issparse():
                raise InvalidInput(f"{archive.name}: member {member.name!r} is not a regular file")
            source = tf.extractfile(member)
            if source is None:  # pragma: no cover - isreg() members always have data
                continue
            with source:
                _write(source, target, budget)
        _drain(tf, budget)


def _members(tf: tarfile.TarFile, archive: str) -> Iterator[tarfile.TarInfo]:
    """The tar's members, read one at a time so a damaged header is the upload's error."""
    while True:
        with _reading(archive, "tar"):
            member = tf.next()
        if member is None:
            return
        yield member


def _drain(tf: tarfile.TarFile, budget: _Budget) -> None:
    """Read past the end-of-archive marker to the end of the (de)compressed stream.

    The tar stops at its end marker, before a gzip/xz/bz2 trailer: only reading on checks the
    stream's checksum and notices a truncated upload. What is read counts against the budget.
    """
    stream = tf.fileobj
    if stream is None:  # pragma: no cover - an opened TarFile always has one
        return
    while True:
        with _reading(budget.archive, "tar"):
            chunk = stream.read(_CHUNK)
        if not chunk:
            return
        budget.spend(len(chunk))


def single_root(unpacked: Path, marker: str) -> Path | None:
    """The directory holding `marker`: the archive's top, or its one top-level directory."""
    if (unpacked / marker).is_file():
        return unpacked
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / marker).is_file():
        return entries[0]
    return None


def copy_tree(source: Path, dest: Path) -> None:
    """Copy a directory of plain files (a local SavedModel), refusing links inside it."""
    for path in source.rglob("*"):
        if path.is_symlink():
            raise InvalidInput(f"{path} is a symbolic link; artifacts may hold only files")
    shutil.copytree(source, dest)
