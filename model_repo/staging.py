"""Staging: where a version is built before it is numbered and renamed into place.

Each publisher gets a box `<root>/.staging/<pid>-<uuid>/` holding `.lock`, which it keeps
flocked for the box's whole life, and `content/`, the version being built. A box is made
under a temporary name `.new-<uuid>`, locked, and only then renamed to its final name, so a
box seen under a final name has had its lock taken: if nobody holds the lock now, its
publisher died and the box may go. Anything else in `.staging` is left alone while younger
than `GRACE_S`: a `.new-*` box may be between mkdir and flock, and a `.probe-*` file is a
writer checking that the dir is writable. Older, they were left by a process that died.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from model_repo._fs import acquire_lock, hash_tree, is_recent, remove_quietly, try_lock
from model_repo._layout import LOCK_FILE as LOCK_FILE  # a box is locked like a model dir
from model_repo._layout import ModelLayout
from model_repo._names import is_version_number
from model_repo._storage import Storage
from model_repo.errors import Conflict, InvalidArgument, RepositoryError
from model_repo.manifest import MANIFEST_FILE, Manifest

STAGING_DIR = ".staging"
LAST_VERSION_FILE = ".last_version"
CONTENT_DIR = "content"
NEW_PREFIX = ".new-"
MAX_VERSION = 2**63 - 1  # TF Serving's versions are int64
GRACE_S = 10 * 60  # far beyond the mkdir-to-flock gap of a live publisher, or a probe's life
_BOX_NAME = re.compile(r"[0-9]+-[0-9a-f]{32}")  # `<pid>-<uuid>`, given only once locked


@contextlib.contextmanager
def staging_box(staging_root: Path) -> Iterator[Path]:
    """A new locked box under `staging_root`; yields its content dir, removes it on exit."""
    token = uuid.uuid4().hex
    box = staging_root / f"{NEW_PREFIX}{token}"
    box.mkdir()
    lock_fd: int | None = None
    try:
        lock_fd = acquire_lock(box / LOCK_FILE)
        # The flock is on the lock file's inode, which the rename carries along.
        box = box.rename(staging_root / f"{os.getpid()}-{token}")
        (box / CONTENT_DIR).mkdir()
        yield box / CONTENT_DIR
    finally:
        shutil.rmtree(box, ignore_errors=True)  # while locked, so cleaners keep off it
        if lock_fd is not None:
            os.close(lock_fd)


def clean_abandoned_boxes(staging_root: Path) -> None:
    """Remove the boxes of publishers that died; live publishers' boxes are left alone."""
    if not staging_root.is_dir():
        return
    for box in staging_root.iterdir():
        if not _BOX_NAME.fullmatch(box.name) and is_recent(box, GRACE_S):
            continue  # a box whose lock may not be taken yet, or a writability probe
        fd = try_lock(box / LOCK_FILE)
        if fd is None and (box / LOCK_FILE).exists():
            continue  # a live publisher holds it
        try:
            remove_quietly(box)
        finally:
            if fd is not None:
                os.close(fd)


class Staging:
    """A version under construction: write the artifact into `path`, then `publish`.

    `version`, when given, is the number it must be published as (a TF Serving or Triton
    version kept on import, an upload naming its version); otherwise it gets the next one.
    `storage` numbers it and puts it in place: a rename locally, an upload to S3.
    """

    def __init__(self, storage: Storage, name: str, path: Path, version: int | None = None) -> None:
        self.storage = storage
        self.name = name
        self.path = path
        self.version = version
        self.published: Manifest | None = None

    def file_hashes(self) -> dict[str, str]:
        return hash_tree(self.path, exclude=frozenset({MANIFEST_FILE}))

    def publish(self, draft: Manifest) -> Manifest:
        """Number the version and move it into place atomically; returns the final manifest."""
        if self.published is not None:
            raise RepositoryError("this staging area was already published")
        if draft.name != self.name:
            raise InvalidArgument(f"manifest names {draft.name!r}, staging is for {self.name!r}")
        if not (self.path / draft.artifact).exists():
            raise InvalidArgument(f"artifact {draft.artifact!r} was not written to staging")
        files = self.file_hashes()
        self.published = self.storage.publish(self.name, self.path, draft, files, self.version)
        return self.published


def last_given(layout: ModelLayout, model_dir: Path) -> int:
    """The highest number ever given (0 for none): the next version is above it, so a
    deleted version's number is never reused."""
    counter = model_dir / LAST_VERSION_FILE
    last = counter.read_bytes().decode(errors="replace").strip() if counter.is_file() else "0"
    if not is_version_number(last):
        raise RepositoryError(f"{counter} is corrupt: {last[:40]!r} is not a version number")
    return max([int(last), *layout.versions(model_dir.name)])


def check_version_number(version: int) -> int:
    if not 1 <= version <= MAX_VERSION:
        raise InvalidArgument(f"version {version} is not a version number: 1 to {MAX_VERSION}")
    return version


def check_version_free(name: str, version: int, last: int) -> None:
    """Refuse a number already given: versions are immutable and never reused, so a
    requested number must be above every number the model ever had."""
    check_version_number(version)
    if version <= last:
        raise Conflict(
            f"{name} cannot be published as version {version}: versions are never reused "
            f"and {name} has had versions up to {last}; give a number above {last}, or none "
            f"to get {last + 1}"
        )
