"""Cheap change detection for the repository: which models changed since the last look.

On S3 (`_ListingWatch`) one look is one listing of the prefix (one request per 1,000 keys):
it gives the ETag of every manifest, alias file, config and of the releases document, and
a model changed when its set of (key, ETag) did; no object is read. ETags come from the
store and change with every write, so there is no clock to distrust.

In a local directory (`_StatWatch`), every write modelport makes is a rename into place (a
version dir, aliases.json, config.json, .releases.json), and a rename changes the parent
directory's mtime. So one look costs a listing of the root and a few stat() calls per
model, and reads no manifest. Files edited in place (aliases.json, config.json) are stat'ed
too, and a version dir that had no manifest yet (copied in by hand, not renamed) is watched
until its manifest appears.

A timestamp is only as fine as the kernel's clock tick, so two changes a few ms apart can
leave the same mtime. As git does with its index, a fingerprint younger than `RACY_NS` is
not trusted: the model counts as changed again at the next look.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from model_repo.manifest import MANIFEST_FILE
from model_repo.model_config import CONFIG_FILE
from model_repo.releases import RELEASES_FILE
from model_repo.repository import ALIASES_FILE, Repository

Stat = tuple[int, int, int] | None  # (inode, mtime ns, size); None when missing
RACY_NS = 2_000_000_000
_UNTRUSTED: Stat = (-1, -1, -1)  # never equal to a real stat


@dataclass(frozen=True)
class Fingerprint:
    folder: Stat
    aliases: Stat
    config: Stat
    incomplete: tuple[str, ...]  # version dirs without a manifest yet


@dataclass
class Changes:
    models: set[str] = field(default_factory=set)
    releases: bool = False


class RepositoryWatch:
    """Which models (and whether the releases) changed since the previous look."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._watch: _ListingWatch | _StatWatch = (
            _ListingWatch(repo) if repo.remote else _StatWatch(repo, Path(repo.root))
        )

    def look(self) -> Changes:
        """What changed since the previous look (everything, the first time)."""
        return self._watch.look()


class _ListingWatch:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._seen: dict[str, tuple[tuple[str, str], ...]] = {}
        self._releases: str | None = None
        self._first = True
        self.requests = 0  # what the last look cost

    def look(self) -> Changes:
        snapshot = self.repo.snapshot()
        current = snapshot.models
        models = {
            n for n in current.keys() | self._seen.keys() if current.get(n) != self._seen.get(n)
        }
        releases = self._first or snapshot.releases != self._releases
        self._seen, self._releases, self._first = current, snapshot.releases, False
        self.requests = snapshot.requests
        return Changes(models, releases)


class _StatWatch:
    def __init__(self, repo: Repository, root: Path) -> None:
        self.repo = repo
        self.root = root
        self._seen: dict[str, Fingerprint] = {}
        self._releases: Stat = None

    def look(self) -> Changes:
        racy_before = time.time_ns() - RACY_NS
        current = {name: self._fingerprint(name) for name in self.repo.models()}
        models = {
            n for n in current.keys() | self._seen.keys() if current.get(n) != self._seen.get(n)
        }
        self._seen = {n: _trusted(f, racy_before) for n, f in current.items()}
        releases = _stat(self.root / RELEASES_FILE)
        changed = releases != self._releases
        self._releases = _UNTRUSTED if _young(releases, racy_before) else releases
        return Changes(models, changed)

    def _fingerprint(self, name: str) -> Fingerprint:
        folder = self.root / name
        stat = _stat(folder)
        previous = self._seen.get(name)
        if previous is None or previous.folder != stat:
            incomplete = _incomplete(folder, _version_dirs(folder))
        else:
            incomplete = _incomplete(folder, previous.incomplete)
        return Fingerprint(
            stat, _stat(folder / ALIASES_FILE), _stat(folder / CONFIG_FILE), incomplete
        )


def _young(stat: Stat, racy_before: int) -> bool:
    return stat is not None and stat[1] >= racy_before


def _trusted(found: Fingerprint, racy_before: int) -> Fingerprint:
    """The fingerprint, or one that matches nothing when a change may hide in its tick."""
    if any(_young(s, racy_before) for s in (found.folder, found.aliases, found.config)):
        return Fingerprint(_UNTRUSTED, None, None, found.incomplete)
    return found


def _stat(path: Path) -> Stat:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


def _version_dirs(folder: Path) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(folder) if entry.name.isdigit()]
    except OSError:
        return []


def _incomplete(folder: Path, names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(n for n in names if not (folder / n / MANIFEST_FILE).is_file()))
