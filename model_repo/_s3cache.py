"""Local copies of versions stored on S3: the runtimes open files, not objects.

onnxruntime, JPMML and TensorFlow read an artifact from a path, so a version on S3 is
fetched into `<cache>/s3/<bucket>/<prefix digest>/<model>/<version>-<manifest digest>/`
before it is opened, and the repository checks every file of that copy against the
manifest's sha256 (`Repository.verify`), as it checks a local version. A copy is keyed by
the manifest too: a version is immutable, but a bucket emptied and filled again could hold
another version under the same number. Every object under the version's prefix is fetched,
so a file added next to the artifact is seen (and refused) as locally. A copy is fetched
into a private dir and renamed into place, so processes sharing the cache never see half.

The cache is `$MODELPORT_CACHE_DIR`, else `$XDG_CACHE_HOME/modelport`, else
`~/.cache/modelport`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from model_repo._objects import ObjectStore
from model_repo.errors import IntegrityError
from model_repo.manifest import MANIFEST_FILE, Manifest

CACHE_ENV = "MODELPORT_CACHE_DIR"
_PARALLEL_DOWNLOADS = 8


def cache_root() -> Path:
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "modelport"


class VersionCache:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        place = hashlib.sha256(store.url.prefix.encode()).hexdigest()[:16]
        self.root = cache_root() / "s3" / store.url.bucket / place

    def local_copy(self, manifest: Manifest, fresh: bool = False) -> Path:
        """The dir holding the version's files, fetched unless already here (or `fresh`)."""
        target = self.root / manifest.name / f"{manifest.version}-{_digest(manifest)}"
        if fresh:
            _remove(target)
        if not target.is_dir():
            self._fetch(manifest, target)
        return target

    def discard(self, name: str, version: int) -> None:
        """Forget every copy of a version (deleted from the store)."""
        folder = self.root / name
        if folder.is_dir():
            for copy in folder.glob(f"{version}-*"):
                _remove(copy)

    def _fetch(self, manifest: Manifest, target: Path) -> None:
        prefix = f"{manifest.name}/{manifest.version}/"
        keys = [k for k in self.store.listing(prefix) if not k.endswith("/")]  # "/": a folder mark
        part = target.parent / f".{target.name}.{uuid.uuid4().hex}.part"
        part.mkdir(parents=True)
        try:
            jobs = []
            for key in keys:
                relative = key[len(prefix) :]
                if relative != MANIFEST_FILE:
                    jobs.append((key, part / _safe(relative, self.store.where(key))))
            for _, dest in jobs:
                dest.parent.mkdir(parents=True, exist_ok=True)
            with ThreadPoolExecutor(_PARALLEL_DOWNLOADS) as pool:
                list(pool.map(lambda job: self.store.download(*job), jobs))
            (part / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
            _settle(part, target)
        finally:
            shutil.rmtree(part, ignore_errors=True)


def _safe(relative: str, where: str) -> Path:
    """A key's path inside the version, refused when it would leave the copy's dir."""
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or any(p in ("..", ".") for p in parts):
        raise IntegrityError(f"{where} is not a file name a version may hold; it is refused")
    return Path(*parts)


def _settle(part: Path, target: Path) -> None:
    try:
        part.rename(target)
    except OSError:
        if not target.is_dir():  # else another process put its copy there first
            raise


def _remove(copy: Path) -> None:
    """Out of the way first (a rename), so no reader opens a half-removed copy."""
    doomed = copy.parent / f".{copy.name}.{uuid.uuid4().hex}.gone"
    try:
        copy.rename(doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def _digest(manifest: Manifest) -> str:
    return hashlib.sha256(manifest.to_json().encode()).hexdigest()[:16]
