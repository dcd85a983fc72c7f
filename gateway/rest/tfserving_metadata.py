"""TF Serving's model status and metadata bodies (GetModelStatusResponse and
GetModelMetadataResponse in proto3 JSON, as TF Serving writes them).

Metadata lists every signature of the version: a SavedModel's each with its method and the
graph tensors it names (`x:0`), an unknown rank as `{"dim": [], "unknown_rank": true}`, and
its `defaults`; other formats have one, `serving_default`, whose tensors are the model's
inputs and outputs.
"""

from __future__ import annotations

from typing import Any

from gateway.control.statuses import VersionState, VersionStatus
from gateway.serving.dataplane import ModelInfo
from model_repo.signature_defs import SignatureDef, TensorInfo

_TF_STATE = {
    VersionState.LOADING: "LOADING",
    VersionState.READY: "AVAILABLE",
    VersionState.UNLOADING: "UNLOADING",
    VersionState.FAILED: "END",
    VersionState.UNAVAILABLE: "END",
}


def render_status(status: VersionStatus) -> dict[str, Any]:
    failed = status.state in (VersionState.FAILED, VersionState.UNAVAILABLE)
    return {
        "version": "" if status.version is None else str(status.version),
        "state": _TF_STATE[status.state],
        "status": {
            "error_code": "UNKNOWN" if status.state is VersionState.FAILED else "OK",
            "error_message": status.reason if failed else "",
        },
    }


def render_metadata(info: ModelInfo) -> dict[str, Any]:
    signatures = {key: _signature(d) for key, d in sorted(info.signature_defs.items())}
    return {
        "model_spec": {"name": info.name, "signature_name": "", "version": str(info.version)},
        "metadata": {"signature_def": {"signature_def": signatures}},
    }


def _signature(definition: SignatureDef) -> dict[str, Any]:
    return {
        "inputs": {t.key: _tensor(t) for t in definition.inputs},
        "outputs": {t.key: _tensor(t) for t in definition.outputs},
        "method_name": definition.method_name,
        "defaults": dict(definition.defaults),
    }


def _tensor(tensor: TensorInfo) -> dict[str, Any]:
    dims = tensor.shape or ()
    return {
        "dtype": tensor.dtype,
        "tensor_shape": {
            "dim": [{"size": str(d), "name": ""} for d in dims],
            "unknown_rank": tensor.shape is None,
        },
        "name": tensor.tensor_name,
    }
