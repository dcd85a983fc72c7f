"""Unpacking uploaded archives: what is refused, and the limits that hold whatever headers say."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from gateway.archives import ArchiveLimits, extract, single_root
from gateway.errors import InvalidInput, PayloadTooLarge


def tar(path: Path, *members: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for member in members:
            archive.addfile(member, io.BytesIO(data) if member.isreg() else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size if kind == tarfile.REGTYPE else 0
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = "model/saved_model.pb"
    return info


def test_a_savedmodel_archive_unpacks_and_its_root_is_found(tmp_path: Path) -> None:
    archive = tar(
        tmp_path / "m.tar.gz",
        member(".", tarfile.DIRTYPE),
        member("m/saved_model.pb"),
        member("m/variables/v"),
    )
    extract(archive, tmp_path / "out", ArchiveLimits())
    assert single_root(tmp_path / "out", "saved_model.pb") == tmp_path / "out" / "m"
    assert (tmp_path / "out" / "m" / "variables" / "v").read_bytes() == b"x"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (member("../up.pb"), "climbs out with '..'"),
        (member("m/../../up.pb"), "climbs out with '..'"),
        (member("/abs.pb"), "absolute path"),
        (member("C:/win.pb"), "absolute path"),
        (member("m/link", tarfile.SYMTYPE), "is a link"),
        (member("m/hard", tarfile.LNKTYPE), "is a link"),
        (member("m/tty", tarfile.CHRTYPE), "not a regular file"),
        (member("m/disk", tarfile.BLKTYPE), "not a regular file"),
        (member("m/pipe", tarfile.FIFOTYPE), "not a regular file"),
    ],
)
def test_hostile_tar_members_are_refused(
    tmp_path: Path, bad: tarfile.TarInfo, message: str
) -> None:
    archive = tar(tmp_path / "bad.tar.gz", member("m/saved_model.pb"), bad)
    with pytest.raises(InvalidInput, match=message):
        extract(archive, tmp_path / "out", ArchiveLimits())
    assert not (tmp_path / "up.pb").exists()


def test_a_zip_symlink_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("m/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(InvalidInput, match="is a link"):
        extract(path, tmp_path / "out", ArchiveLimits())


def test_size_is_counted_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("saved_model.pb", bytes(3 << 20))
    with pytest.raises(PayloadTooLarge, match="unpacks to more than 1048576 bytes"):
        extract(path, tmp_path / "out", ArchiveLimits(max_bytes=1 << 20))


def test_member_count_is_limited(tmp_path: Path) -> None:
    members = [member(f"m/{i}") for i in range(6)]
    archive = tar(tmp_path / "many.tar.gz", *members)
    with pytest.raises(PayloadTooLarge, match="more than 5 members"):
        extract(archive, tmp_path / "out", ArchiveLimits(max_files=5))


def test_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"PK not really")
    with pytest.raises(InvalidInput, match="not a readable zip archive"):
        extract(tmp_path / "x.zip", tmp_path / "out", ArchiveLimits())
