"""A model's serving configuration: `<root>/<model>/config.json`.

```json
{"version_policy": {"latest": 2}, "preserve": "availability"}
```

- `version_policy` says which versions are live: `{"latest": N}` (the N highest, default
  N = 1), `{"all": true}` or `{"specific": [1, 3]}` (listed versions that do not exist are
  skipped). Versions an alias or a release points at are live whatever the policy says.
- `preserve` says what a switch protects: `"availability"` (default: load and warm the new
  version, then unload the old) or `"resources"` (unload the old first, for models too big
  for two copies; requests in the gap get 503).
- `batching` and `runtime`: dynamic batching and runtime options (see `runtime_config`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from model_repo.errors import InvalidArgument
from model_repo.runtime_config import Batching, RuntimeOptions

CONFIG_FILE = "config.json"
_POLICY_HELP = '{"latest": N}, {"all": true} or {"specific": [versions]}'


class Preserve(StrEnum):
    AVAILABILITY = "availability"
    RESOURCES = "resources"


@dataclass(frozen=True)
class VersionPolicy:
    """Exactly one of: the latest `latest` versions, `all` of them, or `specific` ones."""

    latest: int | None = 1
    all: bool = False
    specific: tuple[int, ...] = ()

    def select(self, stored: Iterable[int]) -> frozenset[int]:
        """The versions this policy wants live, out of the stored ones."""
        versions = sorted(stored)
        if self.all:
            return frozenset(versions)
        if self.specific:
            return frozenset(versions) & frozenset(self.specific)
        return frozenset(versions[-(self.latest or 1) :])

    def to_dict(self) -> dict[str, Any]:
        if self.all:
            return {"all": True}
        if self.specific:
            return {"specific": list(self.specific)}
        return {"latest": self.latest}

    @classmethod
    def from_dict(cls, data: Any) -> VersionPolicy:
        if not isinstance(data, dict) or len(data) != 1:
            raise InvalidArgument(f"version_policy must be one of {_POLICY_HELP}, got {data!r}")
        ((kind, value),) = data.items()
        if kind == "latest":
            return cls(latest=_count(value))
        if kind == "all" and value is True:
            return cls(latest=None, all=True)
        if kind == "specific":
            return cls(latest=None, specific=_versions(value))
        raise InvalidArgument(f"version_policy must be one of {_POLICY_HELP}, got {data!r}")


@dataclass(frozen=True)
class ModelConfig:
    version_policy: VersionPolicy = VersionPolicy()
    preserve: Preserve = Preserve.AVAILABILITY
    batching: Batching | None = None  # None: off
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)

    def to_dict(self) -> dict[str, Any]:
        found = {"version_policy": self.version_policy.to_dict(), "preserve": self.preserve.value}
        if self.batching is not None:
            found["batching"] = self.batching.to_dict()
        if self.runtime.options():
            found["runtime"] = self.runtime.to_dict()
        return found

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        """Parse a config body, naming what is wrong; missing fields take their defaults."""
        if not isinstance(data, dict):
            raise InvalidArgument("a model config must be a JSON object")
        unknown = set(data) - {"version_policy", "preserve", "batching", "runtime"}
        if unknown:
            raise InvalidArgument(
                f"unknown field(s) in model config: {', '.join(sorted(unknown))} "
                "(known: version_policy, preserve, batching, runtime)"
            )
        policy = VersionPolicy.from_dict(data.get("version_policy", {"latest": 1}))
        preserve = data.get("preserve", Preserve.AVAILABILITY.value)
        # isinstance first: a list or object is unhashable and `in` a set raises TypeError.
        if not isinstance(preserve, str) or preserve not in {p.value for p in Preserve}:
            raise InvalidArgument(
                f"preserve must be 'availability' or 'resources', got {preserve!r}"
            )
        batching = data.get("batching")
        return cls(
            policy,
            Preserve(preserve),
            None if batching is None else Batching.from_dict(batching),
            RuntimeOptions.from_dict(data.get("runtime", {})),
        )


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"latest must be a positive integer, got {value!r}")
    return value


def _versions(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidArgument(f"specific must be a non-empty list of versions, got {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise InvalidArgument(f"specific versions must be positive integers, got {item!r}")
    return tuple(sorted(set(value)))
