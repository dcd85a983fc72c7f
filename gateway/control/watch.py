"""Cheap change detection for the repository: which models changed since the last look.

Every write modelport makes is a rename into place (a version dir, aliases.json,
config.json, .releases.json), and a rename changes the parent directory's mtime. So one
look costs a listing of the root and a few stat() calls per model, and reads no manifest.
Files edited in place (aliases.json, config.json) are stat'ed too, and a version dir that
had no manifest yet (copied in by hand, not renamed) is watched until its manifest appears.

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
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._seen: dict[str, Fingerprint] = {}
        self._releases: Stat = None

    def look(self) -> Changes:
        """What changed since the previous look (everything, the first time)."""
        racy_before = time.time_ns() - RACY_NS
        current = {name: self._fingerprint(name) for name in self.repo.models()}
        models = {
            n for n in current.keys() | self._seen.keys() if current.get(n) != self._seen.get(n)
        }
        self._seen = {n: _trusted(f, racy_before) for n, f in current.items()}
        releases = _stat(self.repo.releases.path)
        changed = releases != self._releases
        self._releases = _UNTRUSTED if _young(releases, racy_before) else releases
        return Changes(models, changed)

    def _fingerprint(self, name: str) -> Fingerprint:
        folder = self.repo.root / name
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
