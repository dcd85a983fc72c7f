"""TF Serving's `tensorflow.serving.PredictionService` (Predict, Classify, Regress,
GetModelMetadata) and `tensorflow.serving.ModelService` (GetModelStatus).

Each call is one DataPlane or ControlPlane call between tf_codec's decode and encode, as in
TF Serving's REST handlers (gateway.rest.tfserving): the same signatures, leases, routing
hints and tokens (metadata). Metadata and status are TF Serving's REST bodies (proto3 JSON,
gateway.rest.tfserving_metadata) parsed into their messages, so both APIs say the same.
MultiInference and HandleReloadConfigRequest are not served (UNIMPLEMENTED): the
repository decides what is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import json_format

from gateway.control.control_plane import ControlPlane
from gateway.errors import InvalidInput
from gateway.grpc.calls import CallMetadata
from gateway.grpc.status import answers_errors
from gateway.grpc.tf_codec import TFCodec, TFRequest, target
from gateway.grpc.tf_protos import TFServingProtos
from gateway.rest.auth import Auth
from gateway.rest.tfserving_metadata import render_metadata, render_status
from gateway.serving.dataplane import DataPlane
from gateway.serving.inference import InferenceResult

PREDICTION = "tensorflow.serving.PredictionService"
MODELS = "tensorflow.serving.ModelService"
SIGNATURE_DEF = "signature_def"
Encode = Callable[[InferenceResult, str], Any]


class TFServingService:
    def __init__(
        self, plane: DataPlane, control: ControlPlane, auth: Auth, protos: TFServingProtos
    ) -> None:
        self.plane = plane
        self.control = control
        self.auth = auth
        self.protos = protos
        self.codec = TFCodec(protos)

    @answers_errors(tf_serving=True)
    async def predict(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._infer(
            request, context, self.codec.decode_predict, self.codec.encode_predict
        )

    @answers_errors(tf_serving=True)
    async def classify(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._infer(
            request, context, self.codec.decode_classify, self.codec.encode_classify
        )

    @answers_errors(tf_serving=True)
    async def regress(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._infer(
            request, context, self.codec.decode_regress, self.codec.encode_regress
        )

    async def _infer(
        self,
        request: Any,
        context: grpc.aio.ServicerContext,
        decode: Callable[[Any, CallMetadata], TFRequest],
        encode: Encode,
    ) -> Any:
        meta = CallMetadata(context)
        meta.check_reader(self.auth)
        wanted = target(request.model_spec)
        decoded, result, revision = await self.plane.infer_request(
            wanted.model, wanted.ref, meta.hints(), decode, request, meta
        )
        await meta.send_release(context, revision)
        return encode(result, decoded.inference.signature or wanted.signature)

    @answers_errors(tf_serving=True)
    async def get_model_metadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        """The SignatureDefMap, TF Serving's one metadata field (which must be asked for)."""
        CallMetadata(context).check_reader(self.auth)
        fields = list(request.metadata_field)
        if fields != [SIGNATURE_DEF]:
            raise InvalidInput(
                f"metadata_field must be [{SIGNATURE_DEF!r}], the one field served; got {fields}"
            )
        wanted = target(request.model_spec)
        body = render_metadata(self.plane.model_info(wanted.model, wanted.ref))
        module = self.protos.metadata
        signatures = json_format.ParseDict(
            body["metadata"][SIGNATURE_DEF], module.SignatureDefMap()
        )
        response = module.GetModelMetadataResponse()
        json_format.ParseDict(body["model_spec"], response.model_spec)
        response.metadata[SIGNATURE_DEF].Pack(signatures)
        return response

    @answers_errors(tf_serving=True)
    async def get_model_status(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        CallMetadata(context).check_reader(self.auth)
        wanted = target(request.model_spec)
        module = self.protos.status
        response = module.GetModelStatusResponse()
        for status in self.control.version_statuses(wanted.model, wanted.ref):
            body = render_status(status)
            body["version"] = body["version"] or "0"  # a model without versions
            json_format.ParseDict(body, response.model_version_status.add())
        return response

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        p = self.protos
        prediction = {
            "Predict": (self.predict, p.predict.PredictRequest, p.predict.PredictResponse),
            "Classify": (
                self.classify,
                p.classification.ClassificationRequest,
                p.classification.ClassificationResponse,
            ),
            "Regress": (
                self.regress,
                p.regression.RegressionRequest,
                p.regression.RegressionResponse,
            ),
            "GetModelMetadata": (
                self.get_model_metadata,
                p.metadata.GetModelMetadataRequest,
                p.metadata.GetModelMetadataResponse,
            ),
        }
        models = {
            "GetModelStatus": (
                self.get_model_status,
                p.status.GetModelStatusRequest,
                p.status.GetModelStatusResponse,
            )
        }
        return [unary_service(PREDICTION, prediction), unary_service(MODELS, models)]


def unary_service(name: str, methods: dict[str, tuple[Any, Any, Any]]) -> grpc.GenericRpcHandler:
    """A service of unary methods: name -> (handler, request class, response class)."""
    return grpc.method_handlers_generic_handler(
        name,
        {
            method: grpc.unary_unary_rpc_method_handler(
                handler,
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )
            for method, (handler, request, response) in methods.items()
        },
    )
