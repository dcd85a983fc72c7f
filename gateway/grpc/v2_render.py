"""The V2 gRPC answers that are not inference: model metadata and config, the repository
index, statistics, built from what the DataPlane and ControlPlane report.

ModelConfig follows Triton's conventions: with dynamic batching on (and a model whose
tensors all have a free first dimension) `max_batch_size` is the batch limit and `dims`
leave the batch dimension out; otherwise `max_batch_size` is 0 and `dims` are the whole
shape, -1 for a free dimension. A classifier's class labels (the `probabilities` columns,
in order) are the JSON list in `parameters["labels"]`, since V2's metadata has no field
for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tritonclient.grpc import model_config_pb2 as config_pb2
from tritonclient.grpc import service_pb2

from gateway.control.statuses import VersionStatus
from gateway.serving.dataplane import ModelInfo, VersionCounts
from model_repo.model_config import ModelConfig
from model_repo.signature import TensorSpec

BACKENDS = {"onnx_onnxv1": "onnxruntime", "tensorflow_savedmodel": "tensorflow", "pmml": "jpmml"}
_Tensor = service_pb2.ModelMetadataResponse.TensorMetadata
_Index = service_pb2.RepositoryIndexResponse.ModelIndex
_Policy = config_pb2.ModelVersionPolicy


def model_metadata(info: ModelInfo) -> Any:
    signature = info.signature
    return service_pb2.ModelMetadataResponse(
        name=info.name,
        versions=[str(v) for v in info.versions],
        platform=info.platform,
        inputs=[_Tensor(name=s.name, datatype=s.datatype, shape=s.shape) for s in signature.inputs],
        outputs=[
            _Tensor(name=s.name, datatype=s.datatype, shape=s.shape) for s in signature.outputs
        ],
    )


def model_config(info: ModelInfo, config: ModelConfig) -> Any:
    specs = [*info.signature.inputs, *info.signature.outputs]
    batching = config.batching if all(s.shape[:1] == (-1,) for s in specs) else None
    first = 1 if batching is not None else 0
    found = config_pb2.ModelConfig(
        name=info.name,
        platform=info.platform,
        backend=BACKENDS.get(info.platform, ""),
        version_policy=_version_policy(config),
        max_batch_size=batching.max_batch_size if batching is not None else 0,
        input=[_io(config_pb2.ModelInput, s, first) for s in info.signature.inputs],
        output=[_io(config_pb2.ModelOutput, s, first) for s in info.signature.outputs],
    )
    if batching is not None:
        found.dynamic_batching.max_queue_delay_microseconds = batching.max_queue_delay_us
        found.dynamic_batching.default_queue_policy.max_queue_size = batching.max_queue_size
    if info.labels is not None:
        found.parameters["labels"].string_value = json.dumps(list(info.labels))
    return service_pb2.ModelConfigResponse(config=found)


def data_type(datatype: str) -> int:
    """Triton's config DataType of a V2 datatype (BYTES is TYPE_STRING there)."""
    value: int = config_pb2.DataType.Value(
        "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}"
    )
    return value


def _io(kind: Any, spec: TensorSpec, first: int) -> Any:
    return kind(name=spec.name, data_type=data_type(spec.datatype), dims=spec.shape[first:])


def _version_policy(config: ModelConfig) -> Any:
    policy = config.version_policy
    if policy.all:
        return _Policy(all=_Policy.All())
    if policy.specific:
        return _Policy(specific=_Policy.Specific(versions=policy.specific))
    return _Policy(latest=_Policy.Latest(num_versions=policy.latest or 1))


def repository_index(statuses: Iterable[VersionStatus]) -> Any:
    return service_pb2.RepositoryIndexResponse(
        models=[
            _Index(
                name=s.name,
                version="" if s.version is None else str(s.version),
                state=s.state.value,
                reason=s.reason,
            )
            for s in statuses
        ]
    )


def statistics(counts: Iterable[VersionCounts]) -> Any:
    """Triton's statistics from the gateway's counts: every success is one inference and
    one execution (batched requests are counted per request), its time the data plane's
    (fitting the inputs and running the model), so queue and compute_input/output are 0."""
    found = service_pb2.ModelStatisticsResponse()
    for name, version, stats in counts:
        entry = found.model_stats.add(name=name, version=str(version))
        succeeded = stats.succeeded
        entry.last_inference = int(stats.last * 1000)
        entry.inference_count = entry.execution_count = succeeded
        nanoseconds = int(stats.seconds * 1e9)
        for duration in (entry.inference_stats.success, entry.inference_stats.compute_infer):
            duration.count, duration.ns = succeeded, nanoseconds
        entry.inference_stats.fail.count = stats.requests - succeeded
    return found
