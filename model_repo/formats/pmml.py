"""PMML artifacts, served by JPMML-Evaluator in an in-process JVM (JPype).

`describe` reads the document in Python (see `_pmml_schema`); `open` starts the JVM once
per process and builds a JPMML evaluator. Inputs are either one tensor per active field
([N, 1] or [N]) or, for a model fitted on an array, one [N, F] tensor: fields named
x1..xn (the JPMML convention for anonymous features) take column n-1, so features the
model never uses (JPMML prunes them) do not shift the others; other names go in order.

Batches go through JPMML's `evaluateAll` with plain column lists (no pandas round trip);
a single row goes through `evaluate`, which is several times faster for one row.
Evaluators are thread-safe; JPype attaches each calling thread to the JVM on first use,
as a daemon, so pool threads can predict concurrently and never block JVM shutdown.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from model_repo.errors import ArtifactError, DependencyMissing, InvalidArgument
from model_repo.formats._pmml_schema import (
    CANONICAL_OUTPUTS,
    SYNTHETIC_TARGET,
    PmmlField,
    PmmlModel,
    read_pmml,
)
from model_repo.formats.base import Tensors
from model_repo.signature import Signature, TensorSpec, numpy_dtype

MIN_JAVA = 11
INSTALL_HINT = (
    "install a Java 11+ runtime (e.g. apt-get install openjdk-17-jre-headless) or point "
    "JAVA_HOME at one, and the extra: pip install 'modelport[pmml]'"
)
_PYTHON_PACKAGES = {"jpype": "JPype1", "jpmml_evaluator": "jpmml-evaluator"}  # module -> pip
_ANONYMOUS = re.compile(r"^x([1-9][0-9]*)$")
_JVM_LOCK = threading.Lock()


class PmmlFormat:
    name = "pmml"
    artifact_name = "model.pmml"
    platform = "pmml"
    missing_strings = True  # None is a missing value, as NaN is for numbers

    def describe(self, path: Path) -> Signature:
        return read_pmml(path).signature()

    def labels(self, path: Path) -> tuple[Any, ...] | None:
        return read_pmml(path).labels()

    def open(
        self,
        path: Path,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> PmmlPredictor:
        model = read_pmml(path)  # also keeps hostile XML away from the Java parser
        _start_jvm()
        from jpmml_evaluator import make_evaluator

        try:
            evaluator = make_evaluator(path, backend="jpype").verify()
        except Exception as exc:  # JPMML raises Java exceptions through JPype
            raise ArtifactError(f"JPMML cannot load {path.name}: {exc}") from exc
        _check_output_fields(model, evaluator, path)
        parallelism = int((options or {}).get("parallelism", 1))
        return PmmlPredictor(evaluator, model, signature or model.signature(), parallelism)


def _check_output_fields(model: PmmlModel, evaluator: Any, path: Path) -> None:
    """The Python reading of the document must agree with what JPMML will return.

    The names are read from the Java evaluator itself: jpmml_evaluator's Python wrapper of
    `getOutputFields` fails on an OutputField without a dataType (optional in PMML 4.3).
    """
    fields = evaluator.javaEvaluator.getOutputFields()
    known = {str(fields.get(i).getName()) for i in range(fields.size())}
    wanted = [*model.probability_fields, *(o.name for o in model.extra_outputs)]
    missing = [name for name in wanted if name not in known]
    if missing:
        raise ArtifactError(
            f"{path.name}: JPMML does not expose the output field(s) {', '.join(missing)}"
        )


def _start_jvm() -> None:
    """Start the JVM with JPMML's classpath once per process; refuse Java older than 11.

    Started here rather than by jpmml_evaluator so that the JVM leaves SIGINT and SIGTERM
    to Python (`interrupt=False`, `-Xrs`): with JPype's default a Ctrl-C kills the process
    at once, and a server could not drain in-flight requests.
    """
    try:
        import jpmml_evaluator
        import jpype
    except ImportError as exc:
        missing = _PYTHON_PACKAGES.get(exc.name or "", "JPype1 and jpmml-evaluator")
        raise DependencyMissing(
            f"PMML serving needs the Python package {missing}, which is not installed: "
            "pip install 'modelport[pmml]' (PMML also needs a Java 11+ runtime)"
        ) from exc
    with _JVM_LOCK:
        if not jpype.isJVMStarted():
            package = Path(jpmml_evaluator.__file__).parent
            jars = sorted(
                str(j) for d in ("resources", "dependencies") for j in package.glob(f"{d}/*.jar")
            )
            try:
                jpype.startJVM(
                    "-Xrs", jvmpath=jpype.getDefaultJVMPath(), classpath=jars, interrupt=False
                )
            except (jpype.JVMNotFoundException, jpype.JVMNotSupportedException, OSError) as exc:
                raise DependencyMissing(f"no usable Java found ({exc}); {INSTALL_HINT}") from exc
            if threading.current_thread() is not threading.main_thread():
                # The starting thread is the JVM's non-daemon main thread, and the JVM's
                # shutdown at exit waits for it forever once it is gone (a server that
                # loaded its first PMML model in a pool thread would never exit). Detached,
                # it is attached again, as a daemon, on its next call into Java.
                jpype.java.lang.Thread.detach()
    version = tuple(jpype.getJVMVersion())
    major = version[1] if version[0] == 1 else version[0]  # "1.8" style before Java 9
    if major < MIN_JAVA:
        found = ".".join(map(str, version))
        raise DependencyMissing(
            f"PMML serving needs Java {MIN_JAVA}+, found {found}; {INSTALL_HINT}"
        )


class PmmlPredictor:
    def __init__(
        self, evaluator: Any, model: PmmlModel, signature: Signature, parallelism: int = 1
    ) -> None:
        self.signature = signature
        self._evaluator: Any = evaluator
        self._model = model
        self._parallelism = parallelism
        self._columns = _column_plan(model, signature)
        _check_outputs(model, signature)

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        evaluator = self._evaluator
        if evaluator is None:
            raise ArtifactError("this PMML predictor was closed")
        arguments, rows = self._arguments(inputs)
        if rows == 0:
            return self._outputs({}, 0)
        from jpmml_evaluator import PythonEvaluatorUtil

        backend, java = evaluator.backend, evaluator.javaEvaluator
        if rows == 1:
            row = {name: values[0] for name, values in arguments.items()}
            try:
                result = PythonEvaluatorUtil.evaluate(backend, java, row, None)
            except Exception as exc:  # a JavaError naming the bad value
                raise InvalidArgument(f"PMML evaluation failed: {exc}") from exc
            return self._outputs({k: [v] for k, v in result.items()}, 1)
        table = {"columns": list(arguments), "data": list(arguments.values())}
        try:
            results = PythonEvaluatorUtil.evaluateAll(backend, java, table, None, self._parallelism)
        except Exception as exc:
            raise InvalidArgument(f"PMML evaluation failed: {exc}") from exc
        _raise_row_errors(results.get("errors"))
        return self._outputs(dict(zip(results["columns"], results["data"], strict=True)), rows)

    def close(self) -> None:
        self._evaluator = None

    def _arguments(self, inputs: Mapping[str, np.ndarray]) -> tuple[dict[str, list[Any]], int]:
        """One Python list per active field, as JPMML takes them (NaN becomes missing)."""
        arguments: dict[str, list[Any]] = {}
        for pmml_field, (source, column) in zip(self._model.active, self._columns, strict=True):
            if source not in inputs:
                raise InvalidArgument(f"missing input {source!r}")
            array = np.asarray(inputs[source])
            arguments[pmml_field.name] = _to_python(_take(array, source, column), pmml_field)
        lengths = {len(v) for v in arguments.values()}
        if len(lengths) > 1:
            raise InvalidArgument(f"inputs have different numbers of rows: {sorted(lengths)}")
        rows = lengths.pop() if lengths else _rows_of(inputs)
        return arguments, rows

    def _outputs(self, columns: dict[str | None, list[Any]], rows: int) -> Tensors:
        out: Tensors = {}
        for spec in self.signature.outputs:
            dtype = numpy_dtype(spec.datatype)
            if spec.name == "probabilities":
                names = self._model.probability_fields
                out[spec.name] = _matrix(columns, names, rows, dtype)
            elif spec.name == "prediction" and len(self._model.targets) > 1:
                names = tuple(t.name for t in self._model.targets)
                out[spec.name] = _matrix(columns, names, rows, dtype)
            elif spec.name in CANONICAL_OUTPUTS:
                out[spec.name] = _vector(columns.get(_key(self._model.targets[0]), []), dtype)
            else:  # another OutputField: a reason code, a transformed value ...
                out[spec.name] = _field_values(columns.get(spec.name, [None] * rows), spec)
        return out


def _column_plan(model: PmmlModel, signature: Signature) -> list[tuple[str, int | None]]:
    """For each active field: the input it comes from, and its column in a 2-D input."""
    names = set(signature.input_names)
    active = [f.name for f in model.active]
    if all(name in names for name in active):
        return [(name, None) for name in active]
    if len(signature.inputs) == 1 and len(signature.inputs[0].shape) == 2:
        spec = signature.inputs[0]
        width = spec.shape[1]
        numbers = [_ANONYMOUS.match(name) for name in active]
        if all(numbers):
            columns = [int(m.group(1)) - 1 for m in numbers if m]
        elif width in (-1, len(active)):
            columns = list(range(len(active)))
        else:
            columns = []
        if columns and (width == -1 or max(columns) < width):
            return [(spec.name, c) for c in columns]
    raise ArtifactError(
        f"the signature's inputs ({', '.join(sorted(names))}) do not provide the PMML "
        f"model's active fields ({', '.join(active)})"
    )


def _check_outputs(model: PmmlModel, signature: Signature) -> None:
    known = {s.name for s in model.output_specs()}
    unknown = [n for n in signature.output_names if n not in known]
    if unknown:
        raise ArtifactError(
            f"the PMML {model.function} model cannot produce output(s) {', '.join(unknown)}; "
            f"it gives {', '.join(sorted(known))}"
        )


def _take(array: np.ndarray, source: str, column: int | None) -> np.ndarray:
    if column is None:
        if array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1):
            return array.reshape(-1)
        raise InvalidArgument(f"input {source!r} must be [N, 1] or [N], got {list(array.shape)}")
    if array.ndim != 2 or array.shape[1] <= column:
        raise InvalidArgument(
            f"input {source!r} must be [N, F] with F > {column}, got {list(array.shape)}"
        )
    return array[:, column]


def _to_python(values: np.ndarray, pmml_field: PmmlField) -> list[Any]:
    if values.dtype.kind in "OSU":
        return [v.decode() if isinstance(v, bytes) else _missing_nan(v) for v in values.tolist()]
    if values.dtype.kind == "f":
        nan = np.isnan(values).tolist()
        # Integer fields fed through FP32 inputs: hand Java ints, not 1.0, when exact.
        whole = pmml_field.datatype == "integer" and np.all(values[~np.isnan(values)] % 1 == 0)
        cast = int if whole else float
        return [None if m else cast(v) for v, m in zip(values.tolist(), nan, strict=True)]
    result: list[Any] = values.tolist()
    return result


def _missing_nan(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value


def _rows_of(inputs: Mapping[str, np.ndarray]) -> int:
    return int(np.asarray(next(iter(inputs.values()))).shape[0]) if inputs else 0


def _raise_row_errors(errors: list[Any] | None) -> None:
    failed = [(i, e) for i, e in enumerate(errors or ()) if e is not None]
    if failed:
        row, error = failed[0]
        raise InvalidArgument(
            f"PMML evaluation failed for {len(failed)} row(s); row {row}: {error}"
        )


def _vector(values: list[Any], dtype: np.dtype[Any]) -> np.ndarray:
    """A target column; a missing result is NaN for numbers, an error for labels."""
    if dtype.kind != "f" and None in values:
        raise InvalidArgument(
            f"the PMML model gave no result for row {values.index(None)}: an input value "
            "is missing or outside what the model accepts"
        )
    if dtype.kind == "O":
        return np.array([str(v) for v in values], dtype=object)
    return np.asarray(values, dtype=dtype).reshape(-1)


def _key(target: PmmlField) -> str | None:
    """The target's name in JPMML's results (None for the target it makes up itself)."""
    return None if target.name == SYNTHETIC_TARGET else target.name


def _field_values(values: list[Any], spec: TensorSpec) -> np.ndarray:
    """An OutputField's values as its datatype: a missing one is NaN for floats and "" for
    text (a reason code the scorecard did not need); integers and booleans have none."""
    dtype = numpy_dtype(spec.datatype)
    if dtype.kind == "O":
        return np.array(["" if v is None else str(v) for v in values], dtype=object)
    if dtype.kind == "f":
        return np.array([np.nan if v is None else v for v in values], dtype=dtype)
    if None in values:
        raise InvalidArgument(
            f"the PMML model gave no {spec.name!r} for row {values.index(None)}, and "
            f"{spec.datatype} has no missing value"
        )
    return np.asarray(values, dtype=dtype)


def _matrix(
    columns: dict[str | None, list[Any]],
    names: tuple[str, ...],
    rows: int,
    dtype: np.dtype[Any],
) -> np.ndarray:
    if rows == 0:
        return np.zeros((0, len(names)), dtype=dtype)
    missing = [n for n in names if n not in columns]
    if missing:  # the document and the evaluator disagree: the artifact's fault, not the input's
        raise ArtifactError(f"JPMML returned no value for {', '.join(map(repr, missing))}")
    return np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in names]).astype(dtype)


FORMAT = PmmlFormat()
