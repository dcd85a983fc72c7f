"""TF Serving's view of a served version: its named signatures, predict, classify, regress.

Every served version has `serving_default`; a SavedModel has every signature of its `serve`
meta graph besides. A TF Serving request names one (or gets `serving_default`), is fitted
to it and runs on its runtime: `serving_default` on the version's own runtime (batching
included), another signature on the predictor's `predict_signature`. V2 requests never
come here: they go to the manifest's signature, with the V2 shape leniency.

Classify and regress take tf.Examples. A signature with TF Serving's classify or regress
method takes them serialized, in its one DT_STRING input, and answers with its `scores` /
`classes` or `outputs`, as TF Serving does. A modelport classifier or regressor of any
format (canonical outputs: `label` and `probabilities` with the manifest's class labels,
or `prediction`) takes them feature by feature, each feed to the input of its name.
Either way the result is TF Serving's: `scores` [N, C] and `classes` [N, C], or
`outputs` [N].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gateway.errors import InvalidInput
from gateway.serving.conformance import InputPlan
from gateway.serving.inference import InferenceRequest
from gateway.serving.runtime import Runtime
from gateway.serving.tensors import RequestTensor
from gateway.serving.tf_example import Examples, feature_columns, serialized
from model_repo.formats import SignaturePredictor, Tensors
from model_repo.manifest import Manifest
from model_repo.signature_defs import (
    CLASSIFY_METHOD,
    DEFAULT_SIGNATURE,
    REGRESS_METHOD,
    SignatureDef,
    default_signature_defs,
)

CLASSIFY_TYPES = {"scores": "FP32", "classes": "BYTES"}
REGRESS_TYPES = {"outputs": "FP32"}
_VERBS = {CLASSIFY_METHOD: "classify", REGRESS_METHOD: "regress"}


class ServedSignature:
    """One signature of a served version, ready to run TF Serving's requests."""

    __slots__ = ("_labels", "datatypes", "definition", "key", "plan", "problem", "runtime")

    def __init__(
        self,
        definition: SignatureDef,
        runtime: Runtime,
        plan: InputPlan | None,
        labels: tuple[Any, ...] | None = None,
    ) -> None:
        """`plan` is None for a signature that cannot be served (`problem` says why);
        `labels`: the manifest's class labels, for a canonical classifier."""
        self.definition = definition
        self.key = definition.key
        self.runtime = runtime
        self.plan = plan
        self.problem = definition.servable()
        self.datatypes = {t.key: t.datatype or "BYTES" for t in definition.outputs}
        self._labels = labels

    async def run(self, request: InferenceRequest) -> tuple[Tensors, Mapping[str, str]]:
        """The request's outputs and their V2 datatypes."""
        plan = self.plan
        if plan is None or self.problem is not None:
            raise InvalidInput(f"signature {self.key!r} cannot be served: {self.problem}")
        if request.method is None:
            names = plan.check_outputs(request.outputs)
            produced = await self.runtime.predict(plan.fit(request.inputs))
            return {n: produced[n] for n in names}, self.datatypes
        examples = request.examples or Examples([], {})
        if not examples.examples:
            raise InvalidInput("'examples' must hold at least one example")
        canonical = self._canonical(request.method)
        if canonical:
            tensors = feature_columns(examples, plan.specs)
        else:
            tensors = [RequestTensor(self._examples_input(request.method), serialized(examples))]
        produced = await self.runtime.predict(plan.fit(tensors))
        rows = len(examples.examples)
        if request.method == CLASSIFY_METHOD:
            return self._classes(produced, rows, canonical), CLASSIFY_TYPES
        return {"outputs": _regressed(produced, rows, canonical, self.key)}, REGRESS_TYPES

    def _canonical(self, method: str) -> bool:
        """Whether `method` runs on modelport's canonical outputs (features fed by name)
        rather than on a classify/regress signature (serialized examples)."""
        if self.definition.method_name == method:
            return False
        outputs = {t.key for t in self.definition.outputs}
        if method == CLASSIFY_METHOD and {"label", "probabilities"} <= outputs and self._labels:
            return True
        if method == REGRESS_METHOD and "prediction" in outputs:
            return True
        verb = _VERBS[method]
        wanted = (
            "a modelport classifier (outputs label and probabilities, and class labels)"
            if method == CLASSIFY_METHOD
            else "a modelport regressor (output prediction)"
        )
        raise InvalidInput(
            f"signature {self.key!r} cannot {verb}: its method is "
            f"{self.definition.method_name!r}, not {method!r}, and it is not {wanted}; "
            f"name a {verb} signature with signature_name, or use :predict"
        )

    def _examples_input(self, method: str) -> str:
        key = self.definition.takes_examples()
        if key is None:
            inputs = ", ".join(f"{t.key} ({t.dtype})" for t in self.definition.inputs)
            raise InvalidInput(
                f"signature {self.key!r} ({method}) takes {inputs}, not one DT_STRING input "
                "of serialized tf.Examples, so it cannot serve examples; use :predict"
            )
        return key

    def _classes(self, produced: Tensors, rows: int, canonical: bool) -> Tensors:
        scores: np.ndarray | None
        classes: np.ndarray | None
        if canonical:
            scores = np.asarray(produced["probabilities"], dtype=np.float32)
            labels = np.array([str(label) for label in self._labels or ()], dtype=object)
            classes = np.broadcast_to(labels, scores.shape)
        else:
            scores, classes = produced.get("scores"), produced.get("classes")
            if scores is None and classes is None:
                raise InvalidInput(
                    f"classify signature {self.key!r} has neither a 'scores' nor a 'classes' output"
                )
        shape = _check_classes(self.key, scores, classes, rows)
        if scores is None:
            scores = np.zeros(shape, dtype=np.float32)
        if classes is None:
            classes = np.full(shape, "", dtype=object)
        return {"scores": np.asarray(scores, np.float32), "classes": _texts(classes)}


Signatures = Mapping[str, ServedSignature]


def manifest_signatures(manifest: Manifest, plan: InputPlan, runtime: Runtime) -> Signatures:
    """The one signature of a version without named ones: its manifest's, served with the
    version's own plan and runtime."""
    return {
        key: ServedSignature(definition, runtime, plan, manifest.labels)
        for key, definition in default_signature_defs(manifest.signature).items()
    }


def named_signatures(
    predictor: SignaturePredictor,
    manifest: Manifest,
    runtime: Runtime,
    runtime_for: Callable[[SignaturePredictor, str], Runtime],
    missing_strings: bool,
) -> Signatures:
    """Every signature of a predictor that has named ones, shapes left to its runtime;
    serving_default runs on the version's `runtime`, the others on `runtime_for(key)`."""
    served = {}
    for key, definition in predictor.signature_defs.items():
        plan = None
        if definition.servable() is None:
            plan = InputPlan(definition.as_signature(), missing_strings, runtime_shapes=True)
        own = runtime if key == DEFAULT_SIGNATURE else runtime_for(predictor, key)
        served[key] = ServedSignature(definition, own, plan, manifest.labels)
    return served


class SignatureCall:
    """A predictor that runs one named signature of another (closed with that one)."""

    def __init__(self, predictor: SignaturePredictor, key: str) -> None:
        self._predictor = predictor
        self.key = key
        self.signature = predictor.signature_defs[key].as_signature()

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        return self._predictor.predict_signature(self.key, inputs)

    def close(self) -> None:
        """The version's own runtime closes the predictor."""


def _check_classes(
    key: str, scores: np.ndarray | None, classes: np.ndarray | None, rows: int
) -> tuple[int, ...]:
    """TF Serving's rules: [batch, classes] tensors, one row per example, equal shapes."""
    named = (("scores", scores), ("classes", classes))
    shapes = {name: array.shape for name, array in named if array is not None}
    for name, shape in shapes.items():
        if len(shape) != 2 or shape[0] != rows:
            raise InvalidInput(
                f"signature {key!r}: expected {name} of shape [{rows}, number of classes] for "
                f"{rows} example(s), got {list(shape)}"
            )
    if len(set(shapes.values())) > 1:
        raise InvalidInput(f"signature {key!r}: scores and classes differ in shape: {shapes}")
    return next(iter(shapes.values()))


def _regressed(produced: Tensors, rows: int, canonical: bool, key: str) -> np.ndarray:
    name = "prediction" if canonical else "outputs"
    value = produced.get(name)
    if value is None:
        raise InvalidInput(f"regress signature {key!r} has no {name!r} output")
    if value.shape not in ((rows,), (rows, 1)):
        raise InvalidInput(
            f"signature {key!r}: expected {name} of shape [{rows}] or [{rows}, 1] for "
            f"{rows} example(s), got {list(value.shape)}"
        )
    return np.asarray(value, dtype=np.float32).reshape(rows)


def _texts(values: np.ndarray) -> np.ndarray:
    flat = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values.flat]
    return np.array(flat, dtype=object).reshape(values.shape)
