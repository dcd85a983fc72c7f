"""Alias targets: a plain pointer to one version, or a weighted split between versions.

Either may carry a shadow: a share of the alias's requests is copied to another version,
whose answer is compared with the primary's and never returned.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Any

from model_repo.errors import InvalidArgument

ALIAS_PATTERN = re.compile(r"^(?!\d+$)[A-Za-z0-9_-]{1,64}$")


def check_alias_name(alias: str) -> str:
    if not ALIAS_PATTERN.match(alias):
        raise InvalidArgument(
            f"alias {alias!r} is not valid: use 1-64 of [A-Za-z0-9_-], not all digits "
            "(all-digit names are version numbers)"
        )
    return alias


@dataclass(frozen=True)
class Shadow:
    """Copy `percent` of the requests to `version`; its answers are compared, not returned."""

    version: int
    percent: float

    def __post_init__(self) -> None:
        if not 0 < self.percent <= 100:
            raise InvalidArgument(f"shadow percent must be in (0, 100], got {self.percent}")

    def to_dict(self) -> dict[str, Any]:
        percent = int(self.percent) if float(self.percent).is_integer() else self.percent
        return {"version": self.version, "percent": percent}

    @classmethod
    def from_dict(cls, data: Any) -> Shadow:
        if not isinstance(data, dict) or set(data) != {"version", "percent"}:
            raise InvalidArgument('shadow must be {"version": N, "percent": P}')
        percent = data["percent"]
        if isinstance(percent, bool) or not isinstance(percent, int | float) or percent > 100:
            # Checked before float(), which overflows on a huge JSON integer.
            raise InvalidArgument(f"shadow percent must be a number in (0, 100], got {percent!r}")
        return cls(_positive_int(data["version"], "shadow version"), float(percent))


@dataclass(frozen=True)
class AliasTarget:
    """Where an alias points: `version`, or `weights` (version -> percent, summing to 100)."""

    version: int | None = None
    weights: tuple[tuple[int, int], ...] = ()
    shadow: Shadow | None = None

    def __post_init__(self) -> None:
        if (self.version is None) == (not self.weights):
            raise InvalidArgument("an alias target needs exactly one of 'version' or 'weights'")
        if self.version is not None and self.version < 1:
            raise InvalidArgument(f"version must be a positive integer, got {self.version}")
        if self.weights:
            _check_weights(self.weights)
        if self.shadow is not None and self.shadow.version in self.versions:
            raise InvalidArgument(
                f"shadow version {self.shadow.version} is also a primary version of the alias"
            )

    @property
    def versions(self) -> tuple[int, ...]:
        """Every version this target may route to."""
        if self.version is not None:
            return (self.version,)
        return tuple(v for v, _ in self.weights)

    @property
    def referenced(self) -> tuple[int, ...]:
        """Every version this target needs live: the routed ones and the shadow."""
        if self.shadow is None:
            return self.versions
        return (*self.versions, self.shadow.version)

    def pick(self, key: str | None = None) -> int:
        """The version for one request: hashed `key` makes the choice sticky, else random."""
        if self.version is not None:
            return self.version
        if key is None:
            point = random.random() * 100.0
        else:
            digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
            point = int.from_bytes(digest, "big") / 2**64 * 100.0
        cumulative = 0
        for version, weight in self.weights:
            cumulative += weight
            if point < cumulative:
                return version
        return self.weights[-1][0]

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any]
        if self.version is not None:
            body = {"version": self.version}
        else:
            body = {"weights": {str(v): w for v, w in self.weights}}
        if self.shadow is not None:
            body["shadow"] = self.shadow.to_dict()
        return body

    @classmethod
    def from_dict(cls, data: Any) -> AliasTarget:
        """Parse `{"version": 2}` or `{"weights": {"2": 90, "3": 10}}`, naming what is wrong."""
        if not isinstance(data, dict):
            raise InvalidArgument(
                'alias body must be an object: {"version": N} or {"weights": {...}}'
            )
        unknown = set(data) - {"version", "weights", "shadow"}
        if unknown:
            raise InvalidArgument(f"unknown field(s) in alias body: {', '.join(sorted(unknown))}")
        if "version" in data and "weights" in data:
            raise InvalidArgument(
                "alias body needs exactly one of 'version' or 'weights', not both"
            )
        shadow = Shadow.from_dict(data["shadow"]) if data.get("shadow") is not None else None
        if "version" in data:
            return cls(version=_positive_int(data["version"], "version"), shadow=shadow)
        weights = data.get("weights")
        if not isinstance(weights, dict) or not weights:
            raise InvalidArgument('alias body needs "version": N or a non-empty "weights" object')
        pairs = tuple(
            sorted((_positive_int(v, "weights key"), _weight(w, v)) for v, w in weights.items())
        )
        return cls(weights=pairs, shadow=shadow)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} must be a positive integer, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        raise InvalidArgument(f"{what} must be a positive integer, got {value!r}") from None
    if number < 1 or str(number) != str(value).strip():
        raise InvalidArgument(f"{what} must be a positive integer, got {value!r}")
    return number


def _weight(value: Any, version: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"weight of version {version} must be an integer, got {value!r}")
    return value


def _check_weights(weights: tuple[tuple[int, int], ...]) -> None:
    for version, weight in weights:
        if weight < 0:
            raise InvalidArgument(f"weight of version {version} is negative ({weight})")
    total = sum(w for _, w in weights)
    if total != 100:
        raise InvalidArgument(f"split weights must sum to 100, they sum to {total}")
    if len({v for v, _ in weights}) != len(weights):
        raise InvalidArgument("split weights name a version twice")
