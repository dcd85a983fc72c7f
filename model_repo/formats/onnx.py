"""ONNX artifacts, served by onnxruntime."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from model_repo.errors import ArtifactError, DependencyMissing
from model_repo.formats.base import Tensors
from model_repo.signature import Signature, TensorSpec

# onnx.TensorProto element types -> V2 datatypes.
_ELEM_TO_V2 = {
    1: "FP32",
    2: "UINT8",
    3: "INT8",
    4: "UINT16",
    5: "INT16",
    6: "INT32",
    7: "INT64",
    8: "BYTES",
    9: "BOOL",
    10: "FP16",
    11: "FP64",
    12: "UINT32",
    13: "UINT64",
}
_OPTIMIZATION_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def _tensor_spec(value_info: Any) -> TensorSpec:
    kind = value_info.type.WhichOneof("value")
    if kind != "tensor_type":
        hint = " (a ZipMap output? convert with zipmap disabled)" if kind == "sequence_type" else ""
        raise ArtifactError(f"ONNX value {value_info.name!r} is a {kind}, not a tensor{hint}")
    tensor = value_info.type.tensor_type
    datatype = _ELEM_TO_V2.get(tensor.elem_type)
    if datatype is None:
        raise ArtifactError(
            f"ONNX value {value_info.name!r} has element type {tensor.elem_type}, "
            "which has no V2 datatype"
        )
    dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
    return TensorSpec(value_info.name, datatype, dims)


class OnnxFormat:
    name = "onnx"
    artifact_name = "model.onnx"
    platform = "onnx_onnxv1"
    missing_strings = False  # a tensor of strings has no missing value

    def describe(self, path: Path) -> Signature:
        import onnx

        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # onnx raises DecodeError, OSError, ValueError ...
            raise ArtifactError(f"{path.name} is not a readable ONNX model: {exc}") from exc
        graph = model.graph
        initializers = {init.name for init in graph.initializer}
        inputs = [_tensor_spec(v) for v in graph.input if v.name not in initializers]
        if not graph.output:
            raise ArtifactError(f"{path.name}: the ONNX graph declares no outputs")
        return Signature.of(inputs, (_tensor_spec(v) for v in graph.output))

    def labels(self, path: Path) -> tuple[Any, ...] | None:
        return None  # converters record them; a graph's class attributes are not read

    def open(
        self,
        path: Path,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> OnnxPredictor:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - onnxruntime is a base dependency
            raise DependencyMissing("onnxruntime is not installed") from exc
        opts = dict(options or {})
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = int(opts.get("intra_op_threads", 0))
        session_options.inter_op_num_threads = int(opts.get("inter_op_threads", 0))
        level = str(opts.get("graph_optimization", "all"))
        if level not in _OPTIMIZATION_LEVELS:
            known = ", ".join(_OPTIMIZATION_LEVELS)
            raise ArtifactError(f"graph_optimization {level!r} unknown; use one of {known}")
        session_options.graph_optimization_level = getattr(
            ort.GraphOptimizationLevel, _OPTIMIZATION_LEVELS[level]
        )
        # Spinning threads burn the cores that concurrent requests need: off unless asked for.
        spinning = "1" if opts.get("allow_spinning") is True else "0"
        session_options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        try:
            session = ort.InferenceSession(
                str(path), sess_options=session_options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph ...
            raise ArtifactError(f"onnxruntime cannot load {path.name}: {exc}") from exc
        return OnnxPredictor(session, signature or self.describe(path))


class OnnxPredictor:
    def __init__(self, session: Any, signature: Signature) -> None:
        self.session = session
        self.signature = signature
        self._string_inputs = {t.name for t in signature.inputs if t.datatype == "BYTES"}
        self._output_names = [o.name for o in session.get_outputs()]

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        feed = {k: _as_str(v) if k in self._string_inputs else v for k, v in inputs.items()}
        results = self.session.run(self._output_names, feed)
        return dict(zip(self._output_names, results, strict=True))

    def close(self) -> None:
        self.session = None


def _as_str(array: np.ndarray) -> np.ndarray:
    """onnxruntime takes str objects for string tensors; V2 BYTES may arrive as bytes."""
    if array.dtype.kind == "S" or (array.size and isinstance(array.flat[0], bytes)):
        decode = np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b, otypes=[object])
        decoded: np.ndarray = decode(array)
        return decoded
    return array


FORMAT = OnnxFormat()
