"""The raw ASGI floor: the least a Python HTTP server can do to serve an ONNX model.

No framework, no validation, no routing beyond the health paths: parse the V2 JSON body
with orjson, build numpy arrays, call `session.run`, write the V2 response with orjson.
The binary tensor extension is understood too (raw tensors in, raw tensors out). Serve it
the way the gateway is served:

    MODELPORT_BENCH_ONNX=model.onnx uvicorn bench.raw_asgi:create_app --factory \
        --workers 1 --http httptools --loop uvloop --no-access-log
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MODEL_ENV = "MODELPORT_BENCH_ONNX"
HEADER_LENGTH = b"inference-header-content-length"
_DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32}
_V2_NAMES = {np.dtype(t): name for name, t in _DTYPES.items()}
_JSON = [(b"content-type", b"application/json")]
_OK = orjson.dumps({"ready": True})


def open_session(path: str) -> Any:
    """An onnxruntime session with the options modelport's ONNX format uses."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def create_app() -> App:
    session = open_session(os.environ[MODEL_ENV])
    outputs = [o.name for o in session.get_outputs()]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["method"] == "GET":
            await _respond(send, 200, _OK, _JSON)
            return
        body = await _read_body(receive)
        header_length = dict(scope["headers"]).get(HEADER_LENGTH)
        if header_length is None:
            response, headers = _infer_json(session, outputs, body)
        else:
            response, headers = _infer_binary(session, outputs, body, int(header_length))
        await _respond(send, 200, response, headers)

    return app


def _infer_json(session: Any, outputs: list[str], body: bytes) -> tuple[bytes, list[Any]]:
    request = orjson.loads(body)
    feed = {
        i["name"]: np.array(i["data"], dtype=_DTYPES[i["datatype"]]).reshape(i["shape"])
        for i in request["inputs"]
    }
    results = session.run(outputs, feed)
    tensors = [
        {"name": n, "datatype": _V2_NAMES[a.dtype], "shape": a.shape, "data": a.ravel()}
        for n, a in zip(outputs, results, strict=True)
    ]
    answer = {"model_name": "floor", "outputs": tensors}
    return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), _JSON


def _infer_binary(
    session: Any, outputs: list[str], body: bytes, header_length: int
) -> tuple[bytes, list[Any]]:
    request = orjson.loads(body[:header_length])
    feed, offset = {}, header_length
    for spec in request["inputs"]:
        dtype = np.dtype(_DTYPES[spec["datatype"]])
        size = spec["parameters"]["binary_data_size"]
        array = np.frombuffer(body, dtype, size // dtype.itemsize, offset)
        feed[spec["name"]] = array.reshape(spec["shape"])
        offset += size
    results = session.run(outputs, feed)
    described = [
        {
            "name": n,
            "datatype": _V2_NAMES[a.dtype],
            "shape": a.shape,
            "parameters": {"binary_data_size": a.nbytes},
        }
        for n, a in zip(outputs, results, strict=True)
    ]
    header = orjson.dumps({"model_name": "floor", "outputs": described})
    payload = b"".join([header, *(np.ascontiguousarray(a).tobytes() for a in results)])
    headers = [
        (b"content-type", b"application/octet-stream"),
        (HEADER_LENGTH, str(len(header)).encode()),
    ]
    return payload, headers


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    while message.get("more_body"):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[Any]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
