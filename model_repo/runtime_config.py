"""The runtime parts of a model's config (`config.json`): dynamic batching, runtime options.

```json
{"batching": {"max_batch_size": 32, "max_queue_delay_us": 1000, "max_queue_size": 1024},
 "runtime": {"intra_op_threads": 1, "graph_optimization": "all"}}
```

- `batching` (absent or null: off) merges concurrent requests into one runtime call of at
  most `max_batch_size` rows. The oldest waiting request waits at most `max_queue_delay_us`
  for company; at most `max_queue_size` requests wait, beyond that a request is refused
  (503). Only models whose inputs and outputs all have a free first dimension are batched.
- `runtime` options go to the artifact format's `open` (onnxruntime's session options:
  `intra_op_threads` and `inter_op_threads`, 0 = onnxruntime's default, `graph_optimization`
  disable|basic|extended|all, `allow_spinning` true|false). They apply when a version is
  loaded; batching also applies to versions already serving.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from model_repo.errors import InvalidArgument

GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")
MAX_QUEUE_DELAY_US = 10_000_000  # 10 s: longer is a misconfiguration, not a batching delay


@dataclass(frozen=True)
class Batching:
    max_batch_size: int = 32
    max_queue_delay_us: int = 1000
    max_queue_size: int = 1024

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Batching:
        known = _known_fields(cls, data, "batching")
        batching = cls(**known)
        _check_int("max_batch_size", batching.max_batch_size, 1, 1 << 20)
        _check_int("max_queue_delay_us", batching.max_queue_delay_us, 0, MAX_QUEUE_DELAY_US)
        _check_int("max_queue_size", batching.max_queue_size, 1, 1 << 20)
        return batching


@dataclass(frozen=True)
class RuntimeOptions:
    """Runtime options; None leaves the runtime's (or modelport's) default."""

    intra_op_threads: int | None = None
    inter_op_threads: int | None = None
    graph_optimization: str | None = None
    allow_spinning: bool | None = None

    def options(self) -> dict[str, Any]:
        """The options that are set, as the artifact formats' `open` takes them."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return self.options()

    @classmethod
    def from_dict(cls, data: Any) -> RuntimeOptions:
        options = cls(**_known_fields(cls, data, "runtime"))
        for name in ("intra_op_threads", "inter_op_threads"):
            value = getattr(options, name)
            if value is not None:
                _check_int(name, value, 0, 1024)
        level = options.graph_optimization
        if level is not None and level not in GRAPH_OPTIMIZATIONS:
            raise InvalidArgument(
                f"graph_optimization must be one of {', '.join(GRAPH_OPTIMIZATIONS)}, got {level!r}"
            )
        # isinstance, not `in (True, False)`: 1 == True would let 0 and 1 through.
        if options.allow_spinning is not None and not isinstance(options.allow_spinning, bool):
            raise InvalidArgument(
                f"allow_spinning must be true or false, got {options.allow_spinning!r}"
            )
        return options


def _known_fields(cls: type, data: Any, section: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidArgument(f"{section} must be a JSON object, got {data!r}")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise InvalidArgument(
            f"unknown field(s) in {section}: {', '.join(unknown)} (known: {', '.join(names)})"
        )
    return dict(data)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be an integer from {low} to {high}, got {value!r}")
