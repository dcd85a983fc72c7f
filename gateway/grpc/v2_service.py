"""KServe V2's `inference.GRPCInferenceService`: health, metadata, config, inference (unary
and streamed), the repository extension and statistics, each one DataPlane or ControlPlane
call between the codec's decode and encode, as the REST handlers do.

Reads and inference need the inference token when the server has one; the repository's
load and unload need the admin token (`authorization: Bearer <token>` metadata). A version
may be a number or an alias. Errors end the call with the code `status` maps them to;
in a stream they are sent in-band (`error_message`), as Triton does, and the stream goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from tritonclient.grpc import service_pb2

from gateway.control.control_plane import ControlPlane
from gateway.errors import GatewayError, Unauthorized, translate
from gateway.grpc import v2_render
from gateway.grpc.calls import CallMetadata
from gateway.grpc.status import answers_errors
from gateway.grpc.v2_codec import decode_infer, encode_infer
from gateway.rest.auth import Auth
from gateway.serving.dataplane import DataPlane

SERVICE = "inference.GRPCInferenceService"


class V2Service:
    def __init__(self, plane: DataPlane, control: ControlPlane, auth: Auth) -> None:
        self.plane = plane
        self.control = control
        self.auth = auth

    # ---- health and metadata -----------------------------------------------------------------

    @answers_errors()
    async def server_live(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return service_pb2.ServerLiveResponse(live=self.plane.live())

    @answers_errors()
    async def server_ready(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return service_pb2.ServerReadyResponse(ready=self.plane.ready())

    @answers_errors()
    async def model_ready(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        """Ready or not, as Triton answers: a model that cannot serve is `ready: false`."""
        CallMetadata(context).check_reader(self.auth)
        try:
            self.plane.model_ready(request.name, request.version or None)
        except GatewayError as exc:
            if isinstance(exc, Unauthorized):
                raise
            return service_pb2.ModelReadyResponse(ready=False)
        return service_pb2.ModelReadyResponse(ready=True)

    @answers_errors()
    async def server_metadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        CallMetadata(context).check_reader(self.auth)
        return service_pb2.ServerMetadataResponse(**self.plane.server_metadata())

    @answers_errors()
    async def model_metadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        CallMetadata(context).check_reader(self.auth)
        return v2_render.model_metadata(
            self.plane.model_info(request.name, request.version or None)
        )

    @answers_errors()
    async def model_config(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        CallMetadata(context).check_reader(self.auth)
        info = self.plane.model_info(request.name, request.version or None)
        return v2_render.model_config(info, await self.control.config(request.name))

    @answers_errors()
    async def model_statistics(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        CallMetadata(context).check_reader(self.auth)
        counts = self.plane.statistics(request.name, request.version or None)
        return v2_render.statistics(counts)

    # ---- inference ---------------------------------------------------------------------------

    @answers_errors()
    async def model_infer(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        meta = CallMetadata(context)
        meta.check_reader(self.auth)
        response, revision = await self._infer(request, meta)
        await meta.send_release(context, revision)
        return response

    async def model_stream_infer(
        self, requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        """Each request of the stream answered in turn; an error is that answer's
        `error_message`, and the stream goes on. A missing token ends the stream."""
        meta = CallMetadata(context)
        try:
            meta.check_reader(self.auth)
        except Unauthorized as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
        async for request in requests:
            try:
                response, _ = await self._infer(request, meta)
            except Exception as exc:
                error = translate(exc)
                failed = service_pb2.ModelInferResponse(
                    model_name=request.model_name, id=request.id
                )
                yield service_pb2.ModelStreamInferResponse(
                    error_message=error.message, infer_response=failed
                )
                continue
            yield service_pb2.ModelStreamInferResponse(infer_response=response)

    async def _infer(self, request: Any, meta: CallMetadata) -> tuple[Any, int | None]:
        _, result, revision = await self.plane.infer_request(
            request.model_name,
            request.model_version or None,
            meta.hints(),
            decode_infer,
            request,
            meta,
        )
        return encode_infer(result, revision), revision

    # ---- the repository ----------------------------------------------------------------------

    @answers_errors()
    async def repository_index(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        CallMetadata(context).check_reader(self.auth)
        return v2_render.repository_index(await self.control.index(ready_only=request.ready))

    @answers_errors()
    async def repository_model_load(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        CallMetadata(context).check_admin(self.auth)
        await self.control.load(request.model_name)
        return service_pb2.RepositoryModelLoadResponse()

    @answers_errors()
    async def repository_model_unload(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        CallMetadata(context).check_admin(self.auth)
        await self.control.unload(request.model_name)
        return service_pb2.RepositoryModelUnloadResponse()

    def handlers(self) -> grpc.GenericRpcHandler:
        """The service's methods; the others (shared memory, trace and log settings) are
        left to gRPC, which answers UNIMPLEMENTED."""
        unary = {
            "ServerLive": self.server_live,
            "ServerReady": self.server_ready,
            "ModelReady": self.model_ready,
            "ServerMetadata": self.server_metadata,
            "ModelMetadata": self.model_metadata,
            "ModelConfig": self.model_config,
            "ModelStatistics": self.model_statistics,
            "ModelInfer": self.model_infer,
            "RepositoryIndex": self.repository_index,
            "RepositoryModelLoad": self.repository_model_load,
            "RepositoryModelUnload": self.repository_model_unload,
        }
        methods = {name: _unary(name, handler) for name, handler in unary.items()}
        methods["ModelStreamInfer"] = grpc.stream_stream_rpc_method_handler(
            self.model_stream_infer,
            request_deserializer=service_pb2.ModelInferRequest.FromString,
            response_serializer=service_pb2.ModelStreamInferResponse.SerializeToString,
        )
        return grpc.method_handlers_generic_handler(SERVICE, methods)


def _unary(method: str, handler: Any) -> grpc.RpcMethodHandler:
    """A unary method with the request and response messages its descriptor names."""
    described = service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    found = described.methods_by_name[method]
    request, response = (
        getattr(service_pb2, t.name) for t in (found.input_type, found.output_type)
    )
    return grpc.unary_unary_rpc_method_handler(
        handler,
        request_deserializer=request.FromString,
        response_serializer=response.SerializeToString,
    )
