"""Tensor signatures in Open Inference Protocol (KServe V2) terms.

A `Signature` names the inputs and outputs of an artifact with their V2 datatype and shape
(-1 for a free dimension). It is what the manifest records and what the gateway validates
requests against, whatever the artifact format.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_repo.errors import InvalidArgument

# V2 datatype -> numpy dtype. BYTES travel as object arrays of `bytes` or `str`.
V2_TO_NUMPY: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
V2_DATATYPES = tuple(V2_TO_NUMPY)
_NUMPY_KIND_TO_V2 = {np.dtype(v).str: k for k, v in V2_TO_NUMPY.items() if k != "BYTES"}


def v2_datatype(dtype: np.dtype[Any] | type) -> str:
    """The V2 datatype of a numpy dtype; strings and objects are BYTES."""
    dt = np.dtype(dtype)
    if dt.kind in "OSU":
        return "BYTES"
    try:
        return _NUMPY_KIND_TO_V2[dt.str]
    except KeyError:
        raise InvalidArgument(f"numpy dtype {dt} has no V2 datatype") from None


def numpy_dtype(datatype: str) -> np.dtype[Any]:
    """The numpy dtype for a V2 datatype name."""
    try:
        return V2_TO_NUMPY[datatype]
    except KeyError:
        raise InvalidArgument(
            f"unknown datatype {datatype!r}; expected one of {', '.join(V2_DATATYPES)}"
        ) from None


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor: V2 datatype and shape, -1 for a free dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        numpy_dtype(self.datatype)  # validates the name
        if any(d < -1 for d in self.shape):
            raise InvalidArgument(f"tensor {self.name!r}: dimensions must be >= -1")

    def accepts_shape(self, shape: Sequence[int]) -> bool:
        """True when a concrete shape fits this spec (same rank, fixed dims equal)."""
        if len(shape) != len(self.shape):
            return False
        return all(want in (-1, got) for want, got in zip(self.shape, shape, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(str(data["name"]), str(data["datatype"]), tuple(int(d) for d in data["shape"]))


@dataclass(frozen=True)
class Signature:
    """The inputs and outputs of an artifact."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec:
        return _by_name(self.inputs, name, "input")

    def output(self, name: str) -> TensorSpec:
        return _by_name(self.outputs, name, "output")

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        return cls(
            inputs=tuple(TensorSpec.from_dict(t) for t in data["inputs"]),
            outputs=tuple(TensorSpec.from_dict(t) for t in data["outputs"]),
        )

    @classmethod
    def of(cls, inputs: Iterable[TensorSpec], outputs: Iterable[TensorSpec]) -> Signature:
        return cls(tuple(inputs), tuple(outputs))


def _by_name(specs: Iterable[TensorSpec], name: str, kind: str) -> TensorSpec:
    specs = tuple(specs)
    for spec in specs:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in specs) or "none"
    raise InvalidArgument(f"unknown {kind} {name!r}; the model has: {known}")
