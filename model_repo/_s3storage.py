"""A repository on S3-compatible storage: the storage behind `Repository("s3://bucket/p")`.

The layout is the local one, as keys under the prefix:

    <model>/<n>/manifest.json, <model>/<n>/<artifact files>    a version
    <model>/aliases.json, <model>/config.json, .releases.json   documents
    <model>/.claims/<n>                                         version numbers given
    <model>/.lock, .releases.lock                               lock objects (`_s3lock`)

S3 has no rename, so a version becomes visible by its manifest: a publisher first claims a
number by creating `.claims/<n>` only if absent (of two publishers, one gets each number),
uploads every file, then writes the manifest last. Readers list only versions holding a
manifest, so none sees half a version, and a publisher killed mid-way leaves files that no
reader lists. A claim is never removed, so its number is never given again, whether its
version was completed, abandoned or deleted. Documents are replaced only if their ETag is
still the one read (`If-Match`; created with `If-None-Match: *`), under the lock of their
model (or of the releases), as locally under its flock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_repo._jsonfile import encode_object, parse_object
from model_repo._names import MODEL_NAME_PATTERN, check_model_name, is_version_number
from model_repo._objects import ObjectStore, ObjectUrl
from model_repo._s3cache import VersionCache, cache_root
from model_repo._s3lock import object_lock
from model_repo._storage import (
    ALIASES_FILE,
    Doc,
    Snapshot,
    missing_version,
    unknown_model,
)
from model_repo.errors import Conflict, ModelportError, NotFound
from model_repo.manifest import MANIFEST_FILE, Manifest
from model_repo.model_config import CONFIG_FILE
from model_repo.releases import RELEASES_FILE
from model_repo.staging import check_version_free

CLAIMS = ".claims"
LOCK = ".lock"
RELEASES_LOCK = ".releases.lock"
_CLAIM_TRIES = 50
_PARALLEL_UPLOADS = 8
_WATCHED = frozenset({ALIASES_FILE, CONFIG_FILE})


class S3Storage:
    remote = True

    def __init__(self, root: str) -> None:
        self.url = ObjectUrl.parse(root)
        self.location = str(self.url)
        self.objects = ObjectStore(self.url)
        self.cache = VersionCache(self.objects)

    def exists(self) -> bool:
        return self.objects.bucket_exists()

    # ---- reading -------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        found = self.objects.listing("", delimiter="/")
        names = (k[:-1] for k in found if k.endswith("/"))
        return sorted(n for n in names if MODEL_NAME_PATTERN.match(n))

    def versions(self, name: str) -> list[int]:
        return _complete(self.objects.listing(f"{check_model_name(name)}/"), name)

    def unknown_model(self, name: str) -> NotFound:
        return unknown_model(self.location, name)

    def missing_version(self, name: str, version: int) -> NotFound:
        return missing_version(self.location, name, version, self.versions(name))

    def manifest(self, name: str, version: int) -> Manifest:
        key = f"{check_model_name(name)}/{version}/{MANIFEST_FILE}"
        found = self.objects.read(key)
        if found is None:
            raise self.missing_version(name, version)
        return Manifest.parse(found[0], self.objects.where(key))

    def read_doc(self, key: str, error: type[ModelportError], what: str) -> Doc:
        where = self.objects.where(key)
        found = self.objects.read(key)
        if found is None:
            return Doc(key, where, None)
        return Doc(key, where, parse_object(found[0], error, what, where), found[1])

    def version_dir(self, name: str, version: int) -> Path:
        return self.cache.local_copy(self.manifest(name, version))

    def local_copy(self, name: str, manifest: Manifest, fresh: bool = False) -> Path:
        return self.cache.local_copy(manifest, fresh)  # on S3 a model's keys carry its name

    def where(self, name: str, version: int) -> str:
        return self.objects.where(f"{name}/{version}")

    def snapshot(self) -> Snapshot:
        """One listing of the whole prefix: the ETags of every manifest, alias file, config
        and of the releases; no object is read."""
        before = self.objects.requests
        models: dict[str, list[tuple[str, str]]] = {}
        releases = None
        for key, etag in self.objects.listing("").items():
            if key == RELEASES_FILE:
                releases = etag
            name, _, rest = key.partition("/")
            if not rest or not MODEL_NAME_PATTERN.match(name):
                continue
            watched = models.setdefault(name, [])
            number, _, leaf = rest.partition("/")
            if rest in _WATCHED or (leaf == MANIFEST_FILE and is_version_number(number)):
                watched.append((rest, etag))
        found = {name: tuple(sorted(keys)) for name, keys in models.items()}
        return Snapshot(found, releases, self.objects.requests - before)

    # ---- writing -------------------------------------------------------------------------

    def write_doc(self, doc: Doc, body: dict[str, Any]) -> None:
        data = encode_object(body)
        if doc.token is None:
            written = self.objects.create(doc.key, data)
        else:
            written = self.objects.replace(doc.key, data, doc.token)
        if written is None:
            raise Conflict(
                f"{doc.where} was changed by another writer since it was read, so nothing was "
                "written (no change is lost); try again"
            )

    @contextlib.contextmanager
    def model_lock(self, name: str) -> Iterator[None]:
        if not self.versions(name):  # before the lock object would make the model appear
            raise self.unknown_model(name)
        with object_lock(self.objects, f"{name}/{LOCK}", f"model {name!r}"):
            yield

    def releases_lock(self) -> contextlib.AbstractContextManager[None]:
        return object_lock(self.objects, RELEASES_LOCK, "the releases")

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        place = cache_root() / "staging"
        place.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="stage-", dir=place) as content:
            yield Path(content)

    def publish(
        self, name: str, content: Path, draft: Manifest, files: dict[str, str], version: int | None
    ) -> Manifest:
        """Claim a number, upload every file, then the manifest: the version appears whole."""
        number = self._claim(name, version)
        try:
            self._upload(name, number, content, sorted(files))
            manifest = draft.published(number, files)
            key = f"{name}/{number}/{MANIFEST_FILE}"
            if self.objects.create(key, manifest.to_json().encode()) is None:
                raise Conflict(f"{self.objects.where(key)} exists already: it was written by hand")
        except BaseException:
            with contextlib.suppress(Exception):  # best effort: no reader lists them anyway
                self.objects.delete_many([f"{name}/{number}/{f}" for f in files])
            raise
        return manifest

    def last_given(self, name: str) -> int:
        """The highest number ever claimed or published (0 for none)."""
        keys = self.objects.listing(f"{check_model_name(name)}/")
        claims = f"{name}/{CLAIMS}/"
        claimed = [int(k[len(claims) :]) for k in keys if _is_claim(k, claims)]
        return max([0, *claimed, *_complete(keys, name)])

    def remove_version(self, name: str, version: int) -> None:
        """The manifest first, so readers stop listing it at once; then its files."""
        self.objects.delete(f"{name}/{version}/{MANIFEST_FILE}")
        self.objects.delete_many(list(self.objects.listing(f"{name}/{version}/")))
        self.cache.discard(name, version)

    def clean_abandoned(self) -> None:
        """Nothing to do at open: an abandoned upload is invisible and its number claimed."""

    # ---- internals -----------------------------------------------------------------------

    def _claim(self, name: str, requested: int | None) -> int:
        for _ in range(_CLAIM_TRIES):
            last = self.last_given(name)
            number = last + 1 if requested is None else requested
            check_version_free(name, number, last)
            if self.objects.create(f"{name}/{CLAIMS}/{number}", _claim_body()) is not None:
                if requested is not None:
                    self._check_still_highest(name, number)
                return number
            if requested is not None:
                raise Conflict(
                    f"{name} cannot be published as version {number}: another publisher "
                    "claimed that number just now; give a higher one, or none"
                )
        raise Conflict(f"{name}: no version number could be claimed in {_CLAIM_TRIES} tries")

    def _check_still_highest(self, name: str, number: int) -> None:
        """A number asked for must be above every other: refuse it if a higher one was
        claimed between our look and our claim (the claim stays: numbers are not reused)."""
        last = self.last_given(name)
        if last > number:
            raise Conflict(
                f"{name} cannot be published as version {number}: version {last} was claimed "
                "meanwhile and numbers asked for must be above every other; give a number "
                f"above {last}, or none"
            )

    def _upload(self, name: str, number: int, content: Path, files: list[str]) -> None:
        def upload(relative: str) -> None:
            self.objects.upload(f"{name}/{number}/{relative}", content / relative)

        with ThreadPoolExecutor(_PARALLEL_UPLOADS) as pool:
            list(pool.map(upload, files))


def _complete(keys: dict[str, str], name: str) -> list[int]:
    """The versions whose manifest is stored: those a publisher finished."""
    versions = []
    for key in keys:
        number, _, leaf = key[len(name) + 1 :].partition("/")
        if leaf == MANIFEST_FILE and is_version_number(number):
            versions.append(int(number))
    return sorted(versions)


def _is_claim(key: str, claims: str) -> bool:
    return key.startswith(claims) and is_version_number(key[len(claims) :])


def _claim_body() -> bytes:
    claimed = datetime.now(UTC).isoformat(timespec="seconds")
    holder = {"claimed": claimed, "host": socket.gethostname(), "pid": os.getpid()}
    return json.dumps(holder).encode()
