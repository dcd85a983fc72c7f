"""The request path: what a request reads and runs, and nothing that changes it.

Routing tables and leases, input conformance, runtimes, dynamic batching, shadow copies,
and the DataPlane front ends call. Imports nothing of the gateway but its errors and
metrics (see docs/architecture.md for the layering, enforced by tests/test_layering.py).
"""

from gateway.serving.dataplane import NO_HINTS, DataPlane, ModelInfo, RouteHints
from gateway.serving.inference import InferenceRequest, InferenceResult
from gateway.serving.routing_table import Routing, ServingTable
from gateway.serving.tensors import RequestTensor
from gateway.serving.versions import Lease, ServedVersion

__all__ = [
    "NO_HINTS",
    "DataPlane",
    "InferenceRequest",
    "InferenceResult",
    "Lease",
    "ModelInfo",
    "RequestTensor",
    "RouteHints",
    "Routing",
    "ServedVersion",
    "ServingTable",
]
