"""Unpacking uploaded archives: what is refused, and the limits that hold whatever headers say."""

from __future__ import annotations

import errno
import io
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from gateway.control.archives import ArchiveLimits, extract, single_root
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


# A payload that compresses, so damage lands inside the compressed stream, not in stored bytes.
PAYLOAD = b"".join(i.to_bytes(4, "little") for i in range(50_000))


def compressed_tar(path: Path, mode: Literal["w:gz", "w:xz"] = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        info = tarfile.TarInfo("m/saved_model.pb")
        info.size = len(PAYLOAD)
        archive.addfile(info, io.BytesIO(PAYLOAD))
    return path


def compressed_zip(path: Path, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("m/saved_model.pb", PAYLOAD)
    return path


def smashed(path: Path) -> Path:
    """16 bytes of 0xFF in the middle: the decompressor fails (zlib.error, LZMAError ...)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    return path


def cut(path: Path, keep: Callable[[int], int]) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: keep(len(data))])
    return path


def half(n: int) -> int:
    return n // 2


def without_gzip_trailer(n: int) -> int:
    return n - 8  # CRC-32 and length: the tar inside is whole, the stream is not


@pytest.mark.parametrize(
    ("name", "damage", "kind"),
    [
        ("smashed.tar.gz", lambda p: smashed(compressed_tar(p)), "tar"),  # zlib.error
        ("half.tar.gz", lambda p: cut(compressed_tar(p), half), "tar"),  # EOFError
        ("no-trailer.tgz", lambda p: cut(compressed_tar(p), without_gzip_trailer), "tar"),
        ("smashed-xz.tar", lambda p: smashed(compressed_tar(p, "w:xz")), "tar"),  # LZMAError
        ("smashed.zip", lambda p: smashed(compressed_zip(p)), "zip"),  # zlib.error
        ("half.zip", lambda p: cut(compressed_zip(p), half), "zip"),  # BadZipFile
        ("smashed-bz2.zip", lambda p: smashed(compressed_zip(p, zipfile.ZIP_BZIP2)), "zip"),
        ("smashed-lzma.zip", lambda p: smashed(compressed_zip(p, zipfile.ZIP_LZMA)), "zip"),
    ],
)
def test_a_corrupt_or_truncated_archive_is_invalid_input(
    tmp_path: Path, name: str, damage: Callable[[Path], Path], kind: str
) -> None:
    archive = damage(tmp_path / name)
    with pytest.raises(InvalidInput, match=f"{name} is not a readable {kind} archive"):
        extract(archive, tmp_path / "out", ArchiveLimits())


def test_the_undamaged_archives_of_the_corruption_test_unpack(tmp_path: Path) -> None:
    for archive in (
        compressed_tar(tmp_path / "a.tar.gz"),
        compressed_tar(tmp_path / "b.tar", "w:xz"),
        compressed_zip(tmp_path / "c.zip"),
        compressed_zip(tmp_path / "d.zip", zipfile.ZIP_BZIP2),
    ):
        out = tmp_path / f"out-{archive.name}"
        extract(archive, out, ArchiveLimits())
        assert (out / "m" / "saved_model.pb").read_bytes() == PAYLOAD


def test_two_members_at_one_path_are_refused(tmp_path: Path) -> None:
    archive = tar(tmp_path / "twice.tar.gz", member("m/saved_model.pb"), member("m/saved_model.pb"))
    with pytest.raises(InvalidInput, match="clashes with another member"):
        extract(archive, tmp_path / "out", ArchiveLimits())


def test_a_file_where_a_directory_must_be_is_refused(tmp_path: Path) -> None:
    archive = tar(tmp_path / "shadow.tar.gz", member("m"), member("m/saved_model.pb"))
    with pytest.raises(InvalidInput, match="clashes with another member"):
        extract(archive, tmp_path / "out", ArchiveLimits())


def test_a_full_disk_is_the_servers_error_not_the_uploads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FullDisk(io.BytesIO):
        def write(self, _: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "open", lambda *_a, **_k: FullDisk())
    archive = compressed_zip(tmp_path / "fine.zip")
    with pytest.raises(OSError, match="No space left") as caught:
        extract(archive, tmp_path / "out", ArchiveLimits())
    assert not isinstance(caught.value, InvalidInput)
