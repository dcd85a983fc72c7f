"""TF Serving's classify and regress bodies: tf.Examples in JSON, and their results.

Request: `{"signature_name": ..., "context": {feature: value}, "examples": [{feature:
value}, ...]}`; a value is a number, a string, `{"b64": ...}`, or a list of one kind. As in
TF Serving, whole numbers are int64 features and numbers with a fraction or exponent
(`2.0`) float features, strings are bytes. Response: `{"results": [[[label, score], ...],
...]}` for classify, one list of pairs per example (`""` for a model without class labels),
and `{"results": [value, ...]}` for regress.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import InvalidInput
from gateway.rest.codec_tfserving import signature_name
from gateway.rest.common import parse_object
from gateway.serving.inference import InferenceRequest, InferenceResult
from gateway.serving.tf_example import Examples, Feature
from model_repo.signature_defs import CLASSIFY_METHOD, REGRESS_METHOD

_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(slots=True)
class ExamplesRequest:
    inference: InferenceRequest


def decode_classify(body: bytes, headers: Mapping[bytes, bytes]) -> ExamplesRequest:
    return ExamplesRequest(_decode(body, CLASSIFY_METHOD))


def decode_regress(body: bytes, headers: Mapping[bytes, bytes]) -> ExamplesRequest:
    return ExamplesRequest(_decode(body, REGRESS_METHOD))


def encode_classify(result: InferenceResult) -> bytes:
    scores, classes = result.outputs["scores"].tolist(), result.outputs["classes"].tolist()
    results = [
        [[label, score] for label, score in zip(row_classes, row_scores, strict=True)]
        for row_classes, row_scores in zip(classes, scores, strict=True)
    ]
    return orjson.dumps({"results": results}, option=_DUMPS_OPTIONS)


def encode_regress(result: InferenceResult) -> bytes:
    return orjson.dumps({"results": result.outputs["outputs"]}, option=_DUMPS_OPTIONS)


def _decode(body: bytes, method: str) -> InferenceRequest:
    doc = parse_object(body)
    signature = signature_name(doc)
    examples = doc.get("examples")
    if not isinstance(examples, list) or not examples:
        raise InvalidInput("'examples' must be a non-empty list of objects (feature: value)")
    context = _features("context", doc.get("context", {}))
    parsed = [_features(f"example {i}", example) for i, example in enumerate(examples)]
    return InferenceRequest(
        [], signature=signature, method=method, examples=Examples(parsed, context)
    )


def _features(where: str, value: Any) -> dict[str, Feature]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be an object of features, got {value!r}")
    return {str(name): _feature(f"{where}, feature {name!r}", v) for name, v in value.items()}


def _feature(where: str, value: Any) -> Feature:
    values = value if isinstance(value, list) else [value]
    kinds = {_kind(where, v) for v in values}
    if "bytes" in kinds and len(kinds) > 1:
        raise InvalidInput(f"{where}: a list mixes strings and numbers")
    if not kinds or kinds == {"bytes"}:
        return Feature("bytes", tuple(_text(where, v) for v in values))
    if kinds == {"int64"}:
        if any(not _INT64_MIN <= v <= _INT64_MAX for v in values):
            raise InvalidInput(f"{where}: a whole number is out of the int64 range")
        return Feature("int64", tuple(values))
    return Feature("float", tuple(float(v) for v in values))


def _kind(where: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(
            f"{where}: {orjson.dumps(value).decode()} is not a feature value (a number, a "
            'string or {"b64": ...})'
        )
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str) or (isinstance(value, dict) and list(value) == ["b64"]):
        return "bytes"
    raise InvalidInput(
        f'{where}: expected a number, a string or {{"b64": ...}} (or a list of them), got {value!r}'
    )


def _text(where: str, value: Any) -> str | bytes:
    if isinstance(value, str):
        return value
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}: invalid base64: {exc}") from None
