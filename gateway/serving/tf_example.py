"""tf.Examples for TF Serving's classify and regress: features, their wire form, columns.

A request's examples arrive as JSON (decoded by the REST layer into `Feature`s): each
feature is a list of int64s, floats or bytes, as in `tensorflow.Example`. A signature that
takes serialized examples gets them in protobuf's wire format, written here without
TensorFlow (the gateway never imports it outside the runtime); a model that takes
columns gets each feature as the input of its name. `context` features go into every
example, as TF Serving's ExampleListWithContext does.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gateway.errors import InvalidInput
from gateway.serving.tensors import RequestTensor

FeatureKind = Literal["bytes", "float", "int64"]
_LIST_FIELD = {"bytes": 1, "float": 2, "int64": 3}  # Feature's oneof kind: BytesList ...


@dataclass(frozen=True, slots=True)
class Feature:
    kind: FeatureKind
    values: tuple[str | bytes | float | int, ...]  # str: JSON text, written as UTF-8


@dataclass(frozen=True, slots=True)
class Examples:
    """Examples and the context features every one of them shares (never repeats)."""

    examples: list[dict[str, Feature]]
    context: dict[str, Feature]

    def __post_init__(self) -> None:
        for index, example in enumerate(self.examples):
            shared = sorted(example.keys() & self.context.keys())
            if shared:
                raise InvalidInput(
                    f"example {index} repeats context feature(s) {', '.join(shared)}; a "
                    "feature in the context must not appear in the examples"
                )

    def merged(self) -> list[dict[str, Feature]]:
        """Each example with the context's features added."""
        return [{**self.context, **example} for example in self.examples]


def serialized(examples: Examples) -> np.ndarray:
    """The examples as serialized tensorflow.Example protos: a [N] object array of bytes."""
    protos = [serialize(example) for example in examples.merged()]
    array = np.empty(len(protos), dtype=object)
    array[:] = protos
    return array


def serialize(features: Mapping[str, Feature]) -> bytes:
    """One tensorflow.Example: Example.features (1) -> Features.feature (1), a map entry
    per feature (key 1, value 2) -> Feature's list (bytes_list 1, float_list 2,
    int64_list 3) -> the list's `value` (1), packed for numbers."""
    entries = b"".join(
        _field(1, _field(1, name.encode()) + _field(2, _feature(feature)))
        for name, feature in sorted(features.items())
    )
    return _field(1, entries)


def feature_columns(examples: Examples, names: Iterable[str]) -> list[RequestTensor]:
    """The model's inputs, each from the feature of its name: a value per example ([N]),
    or a list per example ([N, k])."""
    rows = examples.merged()
    tensors = []
    for name in names:
        missing = [i for i, row in enumerate(rows) if name not in row]
        if missing:
            known = ", ".join(sorted(rows[missing[0]])) or "none"
            raise InvalidInput(
                f"example {missing[0]} has no feature {name!r}, an input of the model "
                f"(its features: {known}); every input needs a feature of its name"
            )
        tensors.append(RequestTensor(name, _column(name, [row[name] for row in rows])))
    return tensors


def _column(name: str, features: list[Feature]) -> np.ndarray:
    if len({len(f.values) for f in features}) > 1:
        raise InvalidInput(f"feature {name!r} has lists of different lengths across examples")
    kinds = {f.kind for f in features}
    if "bytes" in kinds and len(kinds) > 1:
        raise InvalidInput(f"feature {name!r} mixes strings and numbers across examples")
    width = len(features[0].values)
    cells = [f.values[0] if width == 1 else f.values for f in features]
    if kinds == {"bytes"}:
        column = np.empty((len(cells),) if width == 1 else (len(cells), width), dtype=object)
        for row, cell in enumerate(cells):
            column[row] = cell
        return column
    return np.array(cells, dtype=np.int64 if kinds == {"int64"} else np.float64)


def _feature(feature: Feature) -> bytes:
    if feature.kind == "bytes":
        body = b"".join(_field(1, _bytes(v)) for v in feature.values)
    elif feature.kind == "float":
        packed = struct.pack(f"<{len(feature.values)}f", *feature.values)
        body = _field(1, packed) if packed else b""
    else:
        packed = b"".join(_varint(int(v) & 0xFFFFFFFFFFFFFFFF) for v in feature.values)
        body = _field(1, packed) if packed else b""
    return _field(_LIST_FIELD[feature.kind], body)


def _bytes(value: str | bytes | float | int) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    raise TypeError(f"a bytes feature holds {value!r}")


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
