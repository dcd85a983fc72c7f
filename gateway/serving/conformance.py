"""Fit the tensors of a request to a model's signature, naming whatever does not fit.

Leniency, and only where no value can change:
- a datatype other than the model's is accepted when every value converts exactly (INT32
  data for an INT64 input, FP64 data for an FP32 input when each value is an FP32 number);
  otherwise the error names the input, both datatypes and a value that would change;
- JSON without datatypes (TF Serving) is read as the model's datatype with the same rules
  as V2 JSON: integers stay exact, no strings for numbers, no numbers for strings;
- a column input of shape [-1, 1] takes [N] (and [-1] takes [N, 1]);
- a single-input model takes an unnamed tensor (TF Serving's `instances: [[...]]`).
Nothing else: no reordering, no guessing of columns, no truncation.

A plan with `runtime_shapes` checks datatypes only and feeds every tensor with the shape it
came with: TF Serving requests to a SavedModel, whose shapes TensorFlow checks (as in TF
Serving, where `[3]` for a `[-1, 1]` input gives outputs of shape `[3]`, not `[3, 1]`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gateway.errors import InvalidInput
from gateway.serving.tensors import RequestTensor, json_numbers
from model_repo.signature import Signature, TensorSpec, numpy_dtype


class ShapeRule:
    """A spec's shape as a check that costs a few comparisons: rank, then each fixed dim."""

    __slots__ = ("fixed", "rank")

    def __init__(self, spec: TensorSpec) -> None:
        self.rank = len(spec.shape)
        self.fixed = tuple((i, d) for i, d in enumerate(spec.shape) if d != -1)

    def fits(self, shape: tuple[int, ...]) -> bool:
        if len(shape) != self.rank:
            return False
        for index, size in self.fixed:  # noqa: SIM110 - a loop, not all(genexpr): 3x cheaper here
            if shape[index] != size:
                return False
        return True


class AnyShape:
    """The shape rule of a plan that leaves shapes to the runtime."""

    __slots__ = ()

    def fits(self, shape: tuple[int, ...]) -> bool:
        return True


class InputPlan:
    """What a version takes and returns, precomputed once per loaded version."""

    def __init__(
        self, signature: Signature, missing_strings: bool = False, runtime_shapes: bool = False
    ) -> None:
        """`missing_strings`: whether the runtime takes a missing value (null) in a BYTES
        input (PMML does; ONNX and TensorFlow have no missing string). `runtime_shapes`:
        feed tensors with their own shapes, for a runtime that checks them itself."""
        self.specs = {spec.name: spec for spec in signature.inputs}
        self.dtypes = {spec.name: numpy_dtype(spec.datatype) for spec in signature.inputs}
        self.shapes: dict[str, ShapeRule | AnyShape] = {
            spec.name: AnyShape() if runtime_shapes else ShapeRule(spec)
            for spec in signature.inputs
        }
        self.runtime_shapes = runtime_shapes
        self.output_names = tuple(signature.output_names)
        self._outputs = frozenset(self.output_names)
        self._only = signature.inputs[0] if len(signature.inputs) == 1 else None
        strings = [spec.name for spec in signature.inputs if spec.datatype == "BYTES"]
        self._no_missing = frozenset(() if missing_strings else strings)

    def fit(self, tensors: Iterable[RequestTensor]) -> dict[str, np.ndarray]:
        fitted: dict[str, np.ndarray] = {}
        for tensor in tensors:
            spec = self._spec_for(tensor.name)
            name = spec.name
            if name in fitted:
                raise InvalidInput(f"input {name!r} is given twice")
            array = tensor.array
            # Already the model's dtype and shape (the everyday case): nothing to convert,
            # unless untyped JSON (TF Serving) made objects: numbers with nulls, or strings.
            if (
                array.dtype != self.dtypes[name]
                or not self.shapes[name].fits(array.shape)
                or (tensor.datatype is None and array.dtype.kind == "O")
            ):
                array = self._fit_one(tensor, spec)
            if name in self._no_missing and any(v is None for v in array.flat):
                raise InvalidInput(
                    f"input {name!r}: null (a missing string) is not taken by this model's "
                    "runtime; only PMML models have missing values for strings"
                )
            fitted[name] = array
        if len(fitted) != len(self.specs):
            missing = [name for name in self.specs if name not in fitted]
            raise InvalidInput(
                f"missing input(s) {', '.join(map(repr, missing))}; the model takes "
                f"{', '.join(self.specs)}"
            )
        if len(fitted) > 1 and not self.runtime_shapes:
            _check_rows(fitted, self.specs)
        return fitted

    def check_outputs(self, names: list[str] | None) -> tuple[str, ...]:
        if names is None:
            return self.output_names
        for name in names:
            if name not in self._outputs:
                raise InvalidInput(
                    f"unknown output {name!r}; the model has {', '.join(self.output_names)}"
                )
        return tuple(names)

    def _spec_for(self, name: str | None) -> TensorSpec:
        spec = self.specs.get(name) if name is not None else None
        if spec is not None:
            return spec
        if name is None:
            if self._only is None:
                raise InvalidInput(
                    f"the model takes {len(self.specs)} inputs ({', '.join(self.specs)}); "
                    "name each one (TF Serving: send instances as objects)"
                )
            return self._only
        raise InvalidInput(f"unknown input {name!r}; the model takes {', '.join(self.specs)}")

    def _fit_one(self, tensor: RequestTensor, spec: TensorSpec) -> np.ndarray:
        array = tensor.array
        target = self.dtypes[spec.name]
        if array.dtype != target and not (target.kind == "O" and array.dtype.kind == "O"):
            array = _convert(spec, array, tensor.datatype, target)
        elif tensor.datatype is None and array.dtype.kind == "O":  # untyped JSON's objects
            array = _as_strings(spec, array)
        if not self.runtime_shapes and not spec.accepts_shape(array.shape):
            array = _reshape(spec, array)
        return array


def _convert(
    spec: TensorSpec, array: np.ndarray, declared: str | None, target: np.dtype[Any]
) -> np.ndarray:
    if declared is None:  # JSON numbers without a datatype: read them as the model's type
        if target.kind == "O":
            return _as_strings(spec, array)
        return json_numbers(spec.name, array, target, spec.datatype)
    if target.kind == "O" or array.dtype.kind == "O" or "b" in (target.kind, array.dtype.kind):
        raise InvalidInput(
            f"input {spec.name!r}: expected datatype {spec.datatype}, got {declared}"
        )
    if array.dtype.kind in "iu" and target.kind in "iu":
        return _narrow_integers(spec, array, declared, target)
    with np.errstate(invalid="ignore", over="ignore"):
        converted = array.astype(target)
        back = converted.astype(array.dtype)
    same = back == array
    if array.dtype.kind == "f":
        same |= np.isnan(array) & np.isnan(back)
    if not same.all():
        value = array[~same].flat[0]
        raise InvalidInput(
            f"input {spec.name!r}: expected datatype {spec.datatype}, got {declared}, and "
            f"value {value} is not exactly representable as {spec.datatype}"
        )
    return converted


def _narrow_integers(
    spec: TensorSpec, array: np.ndarray, declared: str, target: np.dtype[Any]
) -> np.ndarray:
    info = np.iinfo(target)
    if array.size and (int(array.min()) < info.min or int(array.max()) > info.max):
        raise InvalidInput(
            f"input {spec.name!r}: expected datatype {spec.datatype}, got {declared}, and "
            f"a value is out of the {spec.datatype} range [{info.min}, {info.max}]"
        )
    return array.astype(target)


def _as_strings(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    if array.dtype.kind in "SU":
        return array.astype(object)
    if array.dtype.kind == "O":
        for value in array.flat:
            if value is not None and not isinstance(value, str | bytes):
                raise InvalidInput(
                    f"input {spec.name!r} takes strings (BYTES) or null, got {value!r}"
                )
        return array
    raise InvalidInput(f"input {spec.name!r} takes strings (BYTES), got {array.dtype.name} values")


def _reshape(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    shape = array.shape
    if len(spec.shape) == len(shape) + 1 and spec.shape[-1] == 1:
        candidate = array.reshape(*shape, 1)
    elif len(spec.shape) == len(shape) - 1 and shape[-1] == 1:
        candidate = array.reshape(shape[:-1])
    else:
        candidate = array
    if not spec.accepts_shape(candidate.shape):
        raise InvalidInput(
            f"input {spec.name!r}: expected shape {list(spec.shape)} (-1 = any size), "
            f"got {list(shape)}"
        )
    return candidate


def _check_rows(fitted: dict[str, np.ndarray], specs: dict[str, TensorSpec]) -> None:
    rows = {
        name: array.shape[0]
        for name, array in fitted.items()
        if specs[name].shape and specs[name].shape[0] == -1
    }
    if len(set(rows.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in rows.items())
        raise InvalidInput(f"inputs must have the same number of rows: {listed}")
