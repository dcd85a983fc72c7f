"""Malformed and hostile files for the bad-input tests, built with the real libraries."""

from __future__ import annotations

import gzip
import io
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

MIB = 1 << 20


def zip_slip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("saved_model.pb", b"not really")
        archive.writestr("../../escaped.txt", b"owned")
    return path


def tar_with_symlink(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        _add(archive, "model/saved_model.pb", b"pb")
        link = tarfile.TarInfo("model/variables")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc"
        archive.addfile(link)
    return path


def tar_with_absolute_path(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        _add(archive, "/tmp/modelport-absolute.pb", b"pb")
    return path


def zip_bomb(path: Path, unpacked_mib: int) -> Path:
    """A small zip that unpacks to `unpacked_mib` MiB of zeros."""
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("saved_model.pb", "w") as member,
    ):
        for _ in range(unpacked_mib):
            member.write(bytes(MIB))
    return path


def gzip_bomb(unpacked_mib: int) -> bytes:
    return gzip.compress(b"{" + b" " * (unpacked_mib * MIB) + b"}")


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def parity_breaker(path: Path) -> Path:
    """A regression whose float32 artifact cannot match it: catastrophic cancellation."""
    import skops.io
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    base = 1e6 + rng.normal(0, 1, 100)
    wide = np.column_stack([base, base + rng.normal(0, 1, 100)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LinearRegression().fit(wide, 1000 * (wide[:, 0] - wide[:, 1]))
    skops.io.dump(model, path)
    return path
