"""scikit-learn -> PMML with sklearn2pmml (JPMML-SkLearn, run in a Java subprocess).

The artifact follows the scikit-learn contract in `sklearn_common`, exactly like the ONNX
artifact of the same model: one FP32 input per DataFrame column (BYTES for strings) or one
`input` [-1, F] FP32 array, with PMML fields named after the columns or x1..xn; `label`
and `probabilities` FP32 in `classes_` order, or `prediction` FP32. Plain estimators and
pipelines are wrapped in a PMMLPipeline (on a copy: sklearn2pmml edits steps in place).

sklearn2pmml is given a copy whose vectorizers carry their token patterns in Java's dialect
and whose integer imputer constants for float columns are floats; its document then gets the
text repairs of `sklearn_text.fix_pmml_document` (case-sensitive terms, zero norms).

Before Java runs, steps are checked against the class mapping in the jars'
META-INF/sklearn2pmml.properties, and classifiers whose PMML would have no probability
outputs (SVC/NuSVC with probability=True, KNeighborsClassifier) are refused, naming the
formats that do support them. sklearn2pmml's chatter (Java's log, the "deployment tools"
banner) is captured; Java's error text becomes the reason of the error raised on failure.
Incident telemetry is kept on this machine, see `_pmml_java`.

Tolerance: rtol 1e-6, atol 1e-9, no mismatches, for every model kind but XGBoost's. JPMML
evaluates in float64 on exactly the float32 sample values the source model gets (for trees
JPMML-SkLearn declares the fields float and compares float32 inputs with float32 thresholds,
as scikit-learn does), so the two sides differ only by summation order (~1e-15) before both
are rounded to float32; 1e-6 is eight float32 ulps. Measured on the 256-row synthesized
samples of the test models (logistic, forest, histgb, mlp, ridge, linear, gbr, scaled,
columns, k-NN regressor; also a decision tree and a two-target ridge): every output was
bit-identical, max abs and rel error 0. LightGBM wrappers keep this tolerance: LightGBM and
JPMML-LightGBM both evaluate its double trees in doubles, and 27 models (9 datasets, 20 trees
of depth 2 to 300 of depth 10, synthesised and fresh rows) were bit-identical.

XGBoost wrappers get XGBOOST_TOLERANCE, the tree tolerance of the ONNX path (rtol 1e-4, atol
1e-5, 1% of elements may differ): XGBoost and JPMML-XGBoost (`x-mathContext="float"`) both sum
the trees and apply the link in float32, each in its own order and with its own exp, so a
probability of 0.0015 may be 1.2e-7 away. Measured on 27 models as above: probabilities at
most 2.0e-6 apart; predictions at most 7.2e-6 of the largest prediction apart, within rtol
1e-4 but for 1 of 256 rows of one model (300 depth-10 trees, a prediction near 0 among values
of +-4e5); no label differed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import threading
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from converters import _pmml_java, boosters, sklearn_common, sklearn_missing, sklearn_text
from converters.base import Export, Sample, SourceModel
from converters.errors import ConversionError, UnsupportedConversion
from converters.sklearn_contract import SklearnContract
from model_repo.errors import DependencyMissing, ModelportError
from model_repo.formats import get_format
from model_repo.manifest import Tolerance
from model_repo.signature import Signature, TensorSpec

PMML_TOLERANCE = Tolerance(rtol=1e-6, atol=1e-9)
XGBOOST_TOLERANCE = Tolerance(rtol=1e-4, atol=1e-5, mismatch_budget=0.01)
EXTRA_HINT = "install the extra: pip install 'modelport[pmml]'"
# Classifiers whose PMML has no probability outputs (JPMML-SkLearn encodes libsvm's
# one-vs-one votes without Platt scaling, and neighbours as votes without a distribution).
_NO_PROBABILITIES = {
    "sklearn.svm._classes.SVC": "Without probability=True an SVC converts to PMML.",
    "sklearn.svm._classes.NuSVC": "Without probability=True a NuSVC converts to PMML.",
    "sklearn.neighbors._classification.KNeighborsClassifier": (
        "KNeighborsRegressor converts to PMML."
    ),
}
_JAVA_EXCEPTION = re.compile(r"^(?:[\w$]+\.)+([\w$]*(?:Exception|Error))(?:: (.+))?$", re.MULTILINE)
_SOLUTION = re.compile(r"^Solution:\s*\n\s*(.+)$", re.MULTILINE)
# redirect_stdout swaps the process-wide sys.stdout: one conversion at a time.
_CONVERT_LOCK = threading.Lock()


class SklearnToPmml(SklearnContract):
    name = "sklearn_pmml"
    target = "pmml"

    def __init__(self, telemetry_proxy_port: int | None = None) -> None:
        # None: a refused loopback port per conversion. Tests pass a listening port to
        # prove that the incident report really goes where these options send it.
        self.telemetry_proxy_port = telemetry_proxy_port

    def check_environment(self) -> None:
        try:
            import sklearn
            import sklearn2pmml  # noqa: F401
        except ImportError as exc:
            raise DependencyMissing(f"sklearn2pmml is not installed; {EXTRA_HINT}") from exc
        _pmml_java.find_java()
        _pmml_java.check_sklearn_accepted(sklearn.__version__)
        _pmml_java.check_not_expired()

    def supports(self, cls: type) -> bool:
        return f"{cls.__module__}.{cls.__qualname__}" in _class_mapping()

    def input_specs(self, model: SourceModel) -> tuple[TensorSpec, ...]:
        sklearn_common.check_kind(model.obj)
        _check_convertible(model.obj, self)
        return super().input_specs(model)

    def tolerance(self, model: SourceModel) -> Tolerance:
        final = sklearn_common.final_estimator(model.obj)
        return XGBOOST_TOLERANCE if boosters.library_of(final) == "xgboost" else PMML_TOLERANCE

    def export(self, model: SourceModel, sample: Sample, dest: Path) -> Export:
        estimator = model.obj
        _check_convertible(estimator, self)
        java = _pmml_java.find_java()
        signature = Signature.of(
            sklearn_common.input_specs(estimator), sklearn_common.output_specs(estimator)
        )
        artifact = dest / get_format("pmml").artifact_name
        self._run(_pmml_pipeline(estimator, signature), artifact, java)
        sklearn_text.fix_pmml_document(artifact)
        _check_artifact(get_format("pmml").describe(artifact), signature, estimator)
        return Export(
            signature=signature,
            labels=sklearn_common.class_labels(estimator),
            libraries={p: version(p) for p in ("sklearn2pmml", "jpmml-evaluator", "JPype1")},
            notes={"java": java.version},
        )

    def _run(self, pipeline: Any, artifact: Path, java: _pmml_java.JavaRuntime) -> None:
        from sklearn2pmml import sklearn2pmml

        captured = io.StringIO()
        with contextlib.ExitStack() as stack:
            port = self.telemetry_proxy_port
            if port is None:
                port = stack.enter_context(_pmml_java.refused_port())
            stack.enter_context(_CONVERT_LOCK)
            stack.enter_context(contextlib.redirect_stdout(captured))
            try:
                sklearn2pmml(
                    pipeline,
                    str(artifact),
                    java_home=java.home,
                    java_opts=_pmml_java.converter_java_opts(port),
                )
            except Exception as exc:  # RuntimeError from Java, pickling errors, OSError ...
                raise _failure(captured.getvalue(), exc) from exc


def _check_convertible(estimator: Any, converter: SklearnToPmml) -> None:
    """Refuse, before Java runs, what sklearn2pmml cannot convert to our contract."""
    sklearn_common.check_steps(estimator, converter.target, converter.supports)
    sklearn_text.check_vectorizers(estimator, converter.target)
    final = sklearn_common.final_estimator(estimator)
    cls = type(final)
    hint = _NO_PROBABILITIES.get(f"{cls.__module__}.{cls.__qualname__}")
    if hint is not None and hasattr(final, "predict_proba"):
        others = [t for t in sklearn_common.formats_supporting(cls) if t != converter.target]
        raise UnsupportedConversion(
            f"{cls.__name__} gives class probabilities, but sklearn2pmml exports it without "
            "them, so its PMML artifact could not serve `probabilities` like the other "
            f"formats. Formats that support it: {', '.join(others) or 'none'}. {hint}"
        )


@cache
def _class_mapping() -> frozenset[str]:
    """Python classes sklearn2pmml converts, from the properties files in its jars
    (`load_class_mapping` expands keys like `sklearn.svm.(_classes|classes).SVC`)."""
    try:
        from sklearn2pmml import load_class_mapping
    except ImportError:
        return frozenset()
    return frozenset(load_class_mapping())


def _pmml_pipeline(estimator: Any, signature: Signature) -> Any:
    from sklearn2pmml import make_pmml_pipeline
    from sklearn2pmml.pipeline import PMMLPipeline

    names = _field_names(signature)
    targets = _target_names(signature, names)
    model = copy.deepcopy(estimator)
    sklearn_text.translate_for_pmml(model)
    sklearn_missing.prepare_for_pmml(model)
    pipeline = model if isinstance(model, PMMLPipeline) else make_pmml_pipeline(model)
    pipeline.active_fields = np.asarray(names)
    pipeline.target_fields = np.asarray(targets)
    return pipeline


def _field_names(signature: Signature) -> list[str]:
    inputs = signature.inputs
    if len(inputs) == 1 and inputs[0].name == sklearn_common.ARRAY_INPUT:
        return [f"x{i + 1}" for i in range(inputs[0].shape[1])]
    return [spec.name for spec in inputs]


def _target_names(signature: Signature, fields: list[str]) -> list[str]:
    """`y` (y1..yn for several targets), moved aside if a feature already has the name."""
    first = signature.outputs[0]
    width = first.shape[1] if first.name == "prediction" and len(first.shape) == 2 else 1
    base = "y"
    while any(re.fullmatch(re.escape(base) + r"\d*", f) for f in fields):
        base += "_"
    return [base] if width == 1 else [f"{base}{i + 1}" for i in range(width)]


def _check_artifact(described: Signature, signature: Signature, estimator: Any) -> None:
    missing = [n for n in signature.output_names if n not in described.output_names]
    if missing:
        raise UnsupportedConversion(
            f"sklearn2pmml converted {type(sklearn_common.final_estimator(estimator)).__name__} "
            f"without the output(s) {', '.join(missing)} that the other formats give"
        )


def _failure(output: str, exc: Exception) -> ModelportError:
    """The error for a failed sklearn2pmml run, with Java's own explanation as the reason."""
    messages = [text.strip() or name for name, text in _JAVA_EXCEPTION.findall(output)]
    solutions = _SOLUTION.findall(output)
    reason = "; caused by: ".join(dict.fromkeys(messages)) or str(exc)
    if solutions:
        reason += f" (suggested fix: {solutions[-1].strip()})"
    reason = reason[:1500]
    if "Scikit-Learn version" in reason or "has expired" in reason:
        return DependencyMissing(f"library version refused by sklearn2pmml: {reason}")
    if "Java is not installed" in reason:
        return DependencyMissing(f"sklearn2pmml could not start Java: {_pmml_java.JAVA_HINT}")
    if messages:
        return UnsupportedConversion(f"sklearn2pmml cannot convert this model: {reason}")
    return ConversionError(f"sklearn2pmml failed: {reason}")


CONVERTER = SklearnToPmml()
