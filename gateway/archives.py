"""Unpack an uploaded .zip or .tar.gz without trusting anything inside it.

Refused: absolute paths, `..` components, symbolic and hard links, device files, FIFOs and
anything else that is not a plain file or directory; more than `max_files` members; more than
`max_bytes` unpacked (counted while writing, since headers can lie about sizes).
"""

from __future__ import annotations

import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from gateway.errors import InvalidInput, PayloadTooLarge

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int = 4 << 30
    max_files: int = 10_000


def is_archive(filename: str) -> bool:
    return filename.lower().endswith(ARCHIVE_SUFFIXES)


def extract(archive: Path, dest: Path, limits: ArchiveLimits) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    budget = _Budget(archive.name, limits)
    if archive.name.lower().endswith(".zip"):
        _extract_zip(archive, dest, budget)
    else:
        _extract_tar(archive, dest, budget)


class _Budget:
    def __init__(self, archive: str, limits: ArchiveLimits) -> None:
        self.archive = archive
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
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("xb") as out:
        while chunk := source.read(_CHUNK):
            budget.spend(len(chunk))
            out.write(chunk)


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
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
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                with zf.open(info) as source:
                    _write(source, target, budget)
    except (zipfile.BadZipFile, EOFError, FileExistsError) as exc:
        raise InvalidInput(f"{archive.name} is not a readable zip archive: {exc}") from None


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> None:
    try:
        with tarfile.open(archive, "r:*") as tf:
            for member in tf:
                budget.member()
                target = _target(dest, member.name, archive.name)
                if member.issym() or member.islnk():
                    raise InvalidInput(f"{archive.name}: member {member.name!r} is a link")
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isreg() or member.issparse():
                    raise InvalidInput(
                        f"{archive.name}: member {member.name!r} is not a regular file"
                    )
                source = tf.extractfile(member)
                if source is None:  # pragma: no cover - isreg() members always have data
                    continue
                with source:
                    _write(source, target, budget)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidInput(f"{archive.name} is not a readable tar archive: {exc}") from None


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
