"""The gRPC server of one gateway process: V2 and TF Serving's services on one port.

Started by the app's lifespan in uvicorn's event loop (gateway.app), so its handlers run
on the loop the DataPlane counts on, beside the REST ones. The port is bound before the
first load, and answers at once: ServerLive is true and ServerReady false while the models
load. TF Serving's services need tensorflow-cpu's and tensorflow-serving-api's protos,
loaded without TensorFlow's runtime (gateway.grpc.tf_protos); without them the server
still runs V2, and TF Serving's calls answer UNIMPLEMENTED saying what to install.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc

from gateway.control.control_plane import ControlPlane
from gateway.errors import PortUnavailable
from gateway.grpc import tf_protos
from gateway.grpc.tf_service import MODELS, PREDICTION, TFServingService
from gateway.grpc.v2_service import V2Service
from gateway.rest.auth import Auth
from gateway.serving.dataplane import DataPlane
from model_repo.errors import DependencyMissing

log = logging.getLogger("modelport.gateway")


async def start_grpc(
    plane: DataPlane,
    control: ControlPlane,
    auth: Auth,
    address: str,
    max_message_bytes: int,
    shared_port: bool = False,
) -> grpc.aio.Server:
    """A started gRPC server on `address` (host:port); PortUnavailable if it cannot bind.

    `shared_port`: bind with SO_REUSEPORT, for worker processes sharing the port; else a
    port someone else holds is refused. Messages may be as large as REST bodies.
    """
    options = [
        ("grpc.so_reuseport", 1 if shared_port else 0),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers([V2Service(plane, control, auth).handlers()])
    server.add_generic_rpc_handlers(_tf_serving(plane, control, auth))
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise PortUnavailable(
            f"cannot listen for gRPC on {address} (in use, or not ours to bind); stop what "
            "holds it or choose another port with --grpc-port (0 turns gRPC off)"
        )
    await server.start()
    log.info("gRPC: KServe V2 and TF Serving's APIs on %s", address)
    return server


def _tf_serving(plane: DataPlane, control: ControlPlane, auth: Auth) -> list[Any]:
    try:
        protos = tf_protos.load()
    except DependencyMissing as exc:
        log.warning("gRPC: TF Serving's services are off: %s", exc)
        return [_Refusal(str(exc))]
    return TFServingService(plane, control, auth, protos).handlers()


class _Refusal(grpc.GenericRpcHandler):  # type: ignore[misc]  # grpc has no type hints
    """Every method of TF Serving's services, answered UNIMPLEMENTED with the reason."""

    def __init__(self, reason: str) -> None:
        self._reason = reason
        self._prefixes = tuple(f"/{service}/" for service in (PREDICTION, MODELS))

    def service(self, details: Any) -> Any:
        if not details.method.startswith(self._prefixes):
            return None
        return grpc.unary_unary_rpc_method_handler(self._refuse)

    async def _refuse(self, request: bytes, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, self._reason)
