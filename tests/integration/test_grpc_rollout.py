"""A roll-out under gRPC load: 4 clients (2 through tritonclient.grpc, 2 through TF
Serving's PredictionService) call the `stable` alias for ~10 s while v2 is published, the
alias switched to it and v1 deleted. No call fails, every answer names its version, and
no call sent after the switch answered is served by v1."""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton

from model_repo.aliases import AliasTarget
from model_repo.model_config import ModelConfig, VersionPolicy
from model_repo.repository import Repository
from tests.integration.load import Window, publish_slow, timed, write_slow_onnx
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-grpc-rollout")
LOAD_SECONDS = 10.0
ROWS = 256
HAS_TF_SERVING = importlib.util.find_spec("tensorflow_serving") is not None


@dataclass(frozen=True)
class Call:
    started: float
    ended: float
    version: str | None  # None: the call failed
    error: str = ""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("grpc-rollout") / "repo"
    repo = Repository(root)
    publish_slow(repo, "roll", 1.0)
    repo.set_alias("roll", "stable", AliasTarget(version=1))
    repo.set_config("roll", ModelConfig(VersionPolicy(latest=None, all=True)))
    with running_server(root, root.parent / "server.log", grpc=True) as running:
        yield running


def v2_caller(target: str) -> Callable[[], str]:
    client = triton.InferenceServerClient(target)
    tensor = triton.InferInput("x", [ROWS, 2], "FP32")
    tensor.set_data_from_numpy(np.ones((ROWS, 2), np.float32))

    def call() -> str:
        result = client.infer("roll", [tensor], "stable", client_timeout=30)
        version = str(result.get_response().model_version)
        offset = {"1": 1.0, "2": 2.0}[version]  # y = x + offset: the version's own answer
        np.testing.assert_array_equal(result.as_numpy("y")[0], [1.0 + offset] * 2)
        return version

    return call


def tf_serving_caller(target: str) -> Callable[[], str]:
    from gateway.grpc.tf_protos import load  # tensorflow-serving-api's messages, no runtime

    protos = load()
    channel = grpc.insecure_channel(target)
    predict = channel.unary_unary(
        "/tensorflow.serving.PredictionService/Predict",
        request_serializer=protos.predict.PredictRequest.SerializeToString,
        response_deserializer=protos.predict.PredictResponse.FromString,
    )
    request = protos.predict.PredictRequest()
    request.model_spec.name = "roll"
    request.model_spec.version_label = "stable"
    x = request.inputs["x"]
    x.dtype = protos.types.DataType.Value("DT_FLOAT")
    x.tensor_shape.dim.add(size=ROWS)
    x.tensor_shape.dim.add(size=2)
    x.tensor_content = np.ones((ROWS, 2), np.float32).tobytes()

    def call() -> str:
        response = predict(request, timeout=30)
        return str(response.model_spec.version.value)

    return call


class Load:
    """Client threads calling until stopped, every call recorded."""

    def __init__(self, callers: list[Callable[[], str]]) -> None:
        self.calls: list[Call] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(c,)) for c in callers]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, call: Callable[[], str]) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                version: str | None = call()
                error = ""
            except Exception as exc:
                version, error = None, repr(exc)[:300]
            self.calls.append(Call(started, time.monotonic(), version, error))


def test_rollout_under_grpc_load(server: Server, tmp_path: Path) -> None:
    callers = [v2_caller(server.grpc_target) for _ in range(2)]
    maker = tf_serving_caller if HAS_TF_SERVING else v2_caller
    callers += [maker(server.grpc_target) for _ in range(2)]
    write_slow_onnx(tmp_path / "roll-v2.onnx", 2.0)
    admin = httpx.Client(base_url=server.url, headers=server.admin, timeout=120)
    with Load(callers) as load:
        began = time.monotonic()
        time.sleep(2)
        with (tmp_path / "roll-v2.onnx").open("rb") as artifact:
            upload = admin.post("/v2/repository/models/roll/versions", files={"file": artifact})
        assert upload.status_code == 201, upload.text
        time.sleep(2)
        switch = switch_stable(admin)
        time.sleep(2)
        deleted = admin.delete("/v2/repository/models/roll/versions/1")
        assert deleted.status_code == 200, deleted.text
        time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - began)))
    admin.close()
    calls = load.calls
    print(
        f"\ngRPC rollout: {len(calls)} calls in {LOAD_SECONDS:.0f} s, v1 "
        f"{sum(c.version == '1' for c in calls)}, v2 {sum(c.version == '2' for c in calls)}"
    )
    assert [c.error for c in calls if c.version is None] == []
    assert {c.version for c in calls} == {"1", "2"}
    late = [c for c in calls if c.started > switch.ended]
    assert late and {c.version for c in late} == {"2"}


def switch_stable(admin: httpx.Client) -> Window:
    with timed() as window:
        response = admin.put("/v2/repository/models/roll/aliases/stable", json={"version": 2})
    assert response.status_code == 200, response.text
    return window
