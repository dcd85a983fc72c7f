"""Named signatures as TF Serving serves them: the `signature_def`s of a version.

A SavedModel may hold several signatures besides its `serving_default`: classify and regress
ones that take serialized tf.Examples, other predict ones. Each names its tensors twice: by
key (`x`, what requests use) and by graph tensor (`x:0`, what TF Serving's metadata shows),
and a tensor may have an unknown rank. The manifest's `Signature` is the V2 view of
`serving_default` only; this is the whole catalogue. Other formats have one signature,
`serving_default`, made from the manifest's signature (`default_signature_defs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from model_repo.signature import Signature, TensorSpec

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"

# TensorFlow's DataType names, as TF Serving's metadata writes them, for each V2 datatype.
TF_DTYPES: Mapping[str, str] = {
    "BOOL": "DT_BOOL",
    "UINT8": "DT_UINT8",
    "UINT16": "DT_UINT16",
    "UINT32": "DT_UINT32",
    "UINT64": "DT_UINT64",
    "INT8": "DT_INT8",
    "INT16": "DT_INT16",
    "INT32": "DT_INT32",
    "INT64": "DT_INT64",
    "FP16": "DT_HALF",
    "FP32": "DT_FLOAT",
    "FP64": "DT_DOUBLE",
    "BYTES": "DT_STRING",
}
V2_DATATYPES: Mapping[str, str] = {tf: v2 for v2, tf in TF_DTYPES.items()}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a signature: its key, its graph tensor, TF dtype and shape."""

    key: str
    tensor_name: str  # "x:0" in a SavedModel; the input's own name in other formats
    dtype: str  # TensorFlow's name: DT_FLOAT, DT_STRING, DT_BFLOAT16 ...
    shape: tuple[int, ...] | None  # -1 for a free dimension; None for an unknown rank

    @property
    def datatype(self) -> str | None:
        """The V2 datatype, or None for a dtype V2 cannot carry (DT_BFLOAT16, DT_VARIANT)."""
        return V2_DATATYPES.get(self.dtype)


@dataclass(frozen=True)
class SignatureDef:
    key: str
    method_name: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    defaults: Mapping[str, Any] = field(default_factory=dict)  # input key -> TensorProto JSON

    def servable(self) -> str | None:
        """Why requests cannot be served through it (a tensor V2 cannot carry); None if they
        can."""
        for tensor in (*self.inputs, *self.outputs):
            if tensor.datatype is None:
                return f"tensor {tensor.key!r} is {tensor.dtype}, which modelport cannot carry"
        return None

    def as_signature(self) -> Signature:
        """The V2 view of a servable signature; an unknown rank reads as shape [] (the plan
        that serves it leaves shapes to TensorFlow)."""
        return Signature.of((_spec(t) for t in self.inputs), (_spec(t) for t in self.outputs))

    def takes_examples(self) -> str | None:
        """The key of its input of serialized tf.Examples, if it takes one (as TF Serving's
        classify and regress signatures do): a single DT_STRING input."""
        if len(self.inputs) == 1 and self.inputs[0].dtype == "DT_STRING":
            return self.inputs[0].key
        return None


def default_signature_defs(signature: Signature) -> dict[str, SignatureDef]:
    """The one signature of a format without named signatures: its manifest's, as predict."""
    definition = SignatureDef(
        DEFAULT_SIGNATURE,
        PREDICT_METHOD,
        tuple(_info(spec) for spec in signature.inputs),
        tuple(_info(spec) for spec in signature.outputs),
    )
    return {DEFAULT_SIGNATURE: definition}


def _info(spec: TensorSpec) -> TensorInfo:
    return TensorInfo(spec.name, spec.name, TF_DTYPES[spec.datatype], spec.shape)


def _spec(tensor: TensorInfo) -> TensorSpec:
    return TensorSpec(tensor.key, tensor.datatype or "BYTES", tensor.shape or ())
