"""TF Serving's gRPC messages to the DataPlane's requests, and its results back.

`model_spec` names the model, a `version` (a number) or a `version_label` (an alias, never
a number, as in TF Serving), and a `signature_name` (`serving_default` when empty).
Predict's `inputs` are TensorProtos (gateway.grpc.tf_tensors) and `output_filter` chooses
outputs; classify and regress take tf.Examples (an ExampleList, or an
ExampleListWithContext whose context goes into every example), run by the same
`ServedSignature` as TF Serving's REST API. Every response's `model_spec` names the version
that served it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import InvalidInput
from gateway.grpc.tf_protos import TFServingProtos
from gateway.grpc.tf_tensors import datatype_of, to_array, to_proto
from gateway.serving.inference import InferenceRequest, InferenceResult
from gateway.serving.tensors import RequestTensor
from gateway.serving.tf_example import Examples, Feature, FeatureKind
from model_repo.signature_defs import CLASSIFY_METHOD, DEFAULT_SIGNATURE, REGRESS_METHOD

_LISTS: Mapping[str, FeatureKind] = {
    "bytes_list": "bytes",
    "float_list": "float",
    "int64_list": "int64",
}


@dataclass(frozen=True, slots=True)
class Target:
    model: str
    ref: str | None  # a version number, a label, or None for the default
    signature: str


@dataclass(slots=True)
class TFRequest:
    inference: InferenceRequest


def target(spec: Any) -> Target:
    """What a ModelSpec names (`version` and `version_label` are a oneof there)."""
    if not spec.name:
        raise InvalidInput("model_spec.name is empty; name the model")
    label = spec.version_label or None
    if spec.HasField("version"):
        if spec.version.value < 0:
            raise InvalidInput(f"model_spec.version {spec.version.value} is negative")
        return Target(spec.name, str(spec.version.value), spec.signature_name or DEFAULT_SIGNATURE)
    if label is not None and label.isascii() and label.isdigit():
        raise InvalidInput(f"version_label {label!r} is a number; use model_spec.version")
    return Target(spec.name, label, spec.signature_name or DEFAULT_SIGNATURE)


def response_spec(result: InferenceResult, signature: str, protos: TFServingProtos) -> Any:
    spec = protos.model.ModelSpec(name=result.model_name, signature_name=signature)
    spec.version.value = result.model_version
    return spec


class TFCodec:
    """The decoders and encoders, bound to the proto modules loaded at start."""

    def __init__(self, protos: TFServingProtos) -> None:
        self.protos = protos

    def decode_predict(self, request: Any, meta: object = None) -> TFRequest:
        if not request.inputs:
            raise InvalidInput("the request has no inputs")
        dtypes = self.protos.types.DataType
        tensors = []
        for name, proto in sorted(request.inputs.items()):
            datatype = datatype_of(name, proto, dtypes)
            tensors.append(RequestTensor(name, to_array(name, proto, datatype), datatype))
        inference = InferenceRequest(
            tensors,
            list(request.output_filter) or None,
            signature=target(request.model_spec).signature,
        )
        return TFRequest(inference)

    def decode_classify(self, request: Any, meta: object = None) -> TFRequest:
        return TFRequest(_examples_request(request, CLASSIFY_METHOD))

    def decode_regress(self, request: Any, meta: object = None) -> TFRequest:
        return TFRequest(_examples_request(request, REGRESS_METHOD))

    def encode_predict(self, result: InferenceResult, signature: str) -> Any:
        response = self.protos.predict.PredictResponse(
            model_spec=response_spec(result, signature, self.protos)
        )
        tensor, dtypes = self.protos.tensor.TensorProto, self.protos.types.DataType
        for name, array in result.outputs.items():
            datatype = result.datatypes.get(name, "BYTES")
            response.outputs[name].CopyFrom(to_proto(array, datatype, tensor, dtypes))
        return response

    def encode_classify(self, result: InferenceResult, signature: str) -> Any:
        module = self.protos.classification
        scores, classes = result.outputs["scores"].tolist(), result.outputs["classes"].tolist()
        found = module.ClassificationResult(
            classifications=[
                module.Classifications(
                    classes=[
                        module.Class(label=label, score=score)
                        for label, score in zip(row_labels, row_scores, strict=True)
                    ]
                )
                for row_labels, row_scores in zip(classes, scores, strict=True)
            ]
        )
        spec = response_spec(result, signature, self.protos)
        return module.ClassificationResponse(model_spec=spec, result=found)

    def encode_regress(self, result: InferenceResult, signature: str) -> Any:
        module = self.protos.regression
        values = result.outputs["outputs"].tolist()
        found = module.RegressionResult(regressions=[module.Regression(value=v) for v in values])
        spec = response_spec(result, signature, self.protos)
        return module.RegressionResponse(model_spec=spec, result=found)


def _examples_request(request: Any, method: str) -> InferenceRequest:
    kind = request.input.WhichOneof("kind")
    if kind is None:
        raise InvalidInput("input holds no examples: set example_list or example_list_with_context")
    given = getattr(request.input, kind)
    context = _features(given.context) if kind == "example_list_with_context" else {}
    examples = Examples([_features(example) for example in given.examples], context)
    signature = target(request.model_spec).signature
    return InferenceRequest([], signature=signature, method=method, examples=examples)


def _features(example: Any) -> dict[str, Feature]:
    found = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind is None:  # an empty Feature: no values of any kind
            found[name] = Feature("bytes", ())
        else:
            found[name] = Feature(_LISTS[kind], tuple(getattr(feature, kind).value))
    return found
