"""The release groups requests resolve, and how the gateway switches them.

A request naming a release (`X-Modelport-Release: r`) reads the board once: one dict lookup
gives it the release's current revision and, from that, its model's version. A switch loads
every new version first, then replaces the board's table in one assignment, so a request
sees either the whole old revision or the whole new one.

Two calls of one client (an embedder, then a ranker fed its output) are two requests. The
response to each names the revision that served it (`X-Modelport-Release-Revision`); a
request sending that header back is served at exactly that revision: the current one, or a
replaced one for `grace` seconds after the switch (its versions stay loaded that long).
After that it is refused with 409, never served from another revision, so a client that
pins the revision of its first call never mixes versions across its calls.

With several gateways on one repository, a client's first call may reach a replica that
switched already and its next one a replica that has not polled yet. A revision above every
revision the board knows is `RevisionAhead`: the data plane has the repository's releases
re-read, then asks again, and refuses only if the revision still is not there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gateway.errors import Conflict, InvalidInput, NotFound, Unavailable
from model_repo.releases import Release

RevisionKey = tuple[str, int]  # (release, revision)


class RevisionAhead(Conflict):
    """A revision newer than any this board knows: the repository may hold it already."""


class ReleaseBoard:
    """The releases served now, those replaced within the grace period, those being loaded."""

    def __init__(self) -> None:
        self.current: Mapping[str, Release] = {}
        self.replaced: Mapping[RevisionKey, Release] = {}
        self.incoming: Mapping[str, Release] = {}  # being loaded, not yet served
        self.problems: dict[str, str] = {}  # release -> why its stored revision is not served

    # ---- the request path ---------------------------------------------------------------

    def resolve(self, name: str, revision: str | None, model: str) -> tuple[int, int]:
        """The version of `model` in release `name` (at `revision` if given), and the revision."""
        release = self.current.get(name)
        if revision is not None:
            pinned = _revision(revision)
            if release is None or release.revision != pinned:
                release = self.replaced.get((name, pinned))
            if release is None:
                raise (
                    self._ahead(name, pinned)
                    if pinned > self.newest()
                    else self._gone(name, pinned)
                )
        elif release is None:
            raise self._unknown(name)
        version = release.version_of(model)
        if version is None:
            models = ", ".join(m for m, _ in release.pinned)
            raise NotFound(
                f"release {name!r} (revision {release.revision}) has no model {model!r} "
                f"(models: {models})"
            )
        return version, release.revision

    # ---- the manager's side -------------------------------------------------------------

    def pins(self, model: str) -> set[int]:
        """Versions of `model` that a served, replaced or incoming release needs live."""
        releases = [*self.current.values(), *self.replaced.values(), *self.incoming.values()]
        return {v for r in releases if (v := r.version_of(model)) is not None}

    def replace(self, releases: Mapping[str, Release]) -> list[RevisionKey]:
        """Serve `releases` from now on; the revisions they replace, kept for the grace."""
        gone = [r for name, r in self.current.items() if releases.get(name) != r]
        self.replaced = {**self.replaced, **{(r.name, r.revision): r for r in gone}}
        self.current = dict(releases)  # the switch: one assignment
        return [(r.name, r.revision) for r in gone]

    def expire(self, keys: Iterable[RevisionKey]) -> set[str]:
        """Stop serving replaced revisions; the models whose versions they pinned."""
        doomed = set(keys)
        models = {m for k in doomed if (r := self.replaced.get(k)) for m, _ in r.pinned}
        self.replaced = {k: r for k, r in self.replaced.items() if k not in doomed}
        return models

    def newest(self) -> int:
        """The highest revision served, replaced or being loaded (revisions only grow)."""
        releases = [*self.current.values(), *self.replaced.values(), *self.incoming.values()]
        return max((r.revision for r in releases), default=0)

    def _ahead(self, name: str, pinned: int) -> RevisionAhead:
        current = self.current.get(name)
        now = f"it is at revision {current.revision}" if current else "no such release is stored"
        return RevisionAhead(
            f"release {name!r} has no revision {pinned} ({now}, after reading the repository "
            "again). Start over without X-Modelport-Release-Revision to get the current revision"
        )

    def _gone(self, name: str, pinned: int) -> Conflict:
        current = self.current.get(name)
        now = f"is at revision {current.revision}" if current else "no longer exists"
        return Conflict(
            f"release {name!r} {now}; revision {pinned} is no longer served. Start over "
            "without X-Modelport-Release-Revision to get the current revision"
        )

    def _unknown(self, name: str) -> Exception:
        if name in self.problems:
            return Unavailable(f"release {name!r} cannot be served: {self.problems[name]}")
        known = ", ".join(sorted(self.current)) or "none"
        return NotFound(f"no release {name!r} (releases: {known})")


def _revision(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"X-Modelport-Release-Revision must be a number, got {text!r}")
    return int(text)


def models_of(releases: Iterable[Release]) -> set[str]:
    return {model for release in releases for model, _ in release.pinned}
