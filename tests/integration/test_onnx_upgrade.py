"""Old-opset ONNX uploads through a real server: upgraded, checked, served; or refused, 422.

The models are the ONNX project's own backend test models (opset 6, which onnxruntime no
longer implements), uploaded over HTTP as a user would; answers are compared with the
original model run by onnx's reference evaluator and with the outputs ONNX recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.artifacts import onnx_backend_case
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-onnx-upgrade")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("onnx-upgrade")
    with running_server(folder / "repo", folder / "server.log") as running:
        yield running


def _upload(server: Server, name: str, model: Path) -> httpx.Response:
    with model.open("rb") as handle:
        return httpx.post(
            f"{server.url}/v2/repository/models/{name}/versions",
            files={"file": (f"{name}.onnx", handle)},
            headers=server.admin,
            timeout=120,
        )


def _infer(server: Server, name: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    inputs = [
        {
            "name": key,
            "datatype": "BYTES" if value.dtype.kind in "OSU" else "FP32",
            "shape": list(value.shape),
            "data": value.ravel().tolist(),
        }
        for key, value in tensors.items()
    ]
    response = httpx.post(f"{server.url}/v2/models/{name}/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    return {o["name"]: o for o in response.json()["outputs"]}


def test_an_opset_6_batch_norm_uploads_upgraded_and_answers_like_the_original(
    server: Server,
) -> None:
    import onnx
    from onnx.reference import ReferenceEvaluator

    model, inputs, expected = onnx_backend_case("test_BatchNorm2d_eval")
    created = _upload(server, "batchnorm", model)
    assert created.status_code == 201, created.text
    manifest = created.json()
    assert manifest["provenance"]["converter"] == "onnx.version_converter"
    upgrade = manifest["notes"]["opset_upgrade"]
    assert (upgrade["from_opset"], upgrade["to_opset"]) == (6, 21)
    assert "BatchNormalization-6 -> BatchNormalization-15" in upgrade["changed_ops"]
    assert manifest["parity"]["passed"] is True

    original = onnx.load(str(model))
    name = next(i.name for i in original.graph.input)
    (reference,) = ReferenceEvaluator(original).run(None, {name: inputs[0]})
    served = _infer(server, "batchnorm", {name: inputs[0]})
    (output,) = served.values()
    got = np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])
    np.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, expected[0], rtol=1e-4, atol=1e-5)


def test_an_upload_whose_upgrade_breaks_the_model_is_a_422_and_publishes_nothing(
    server: Server,
) -> None:
    model, _inputs, _outputs = onnx_backend_case("test_PReLU_3d_multiparam")
    refused = _upload(server, "prelu", model)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert "upgraded from opset 6 to 21 (PRelu-6 -> PRelu-16)" in error
    assert "nothing was published" in error
    assert httpx.get(f"{server.url}/v2/models/prelu").status_code == 404


def test_a_string_normalizer_upload_serves_whatever_locales_the_machine_has(
    server: Server,
) -> None:
    model, inputs, expected = onnx_backend_case(
        "test_strnorm_model_monday_insensintive_upper_twodim"
    )
    created = _upload(server, "strnorm", model)
    assert created.status_code == 201, created.text
    served = _infer(server, "strnorm", {"x": inputs[0]})
    (output,) = served.values()
    assert output["data"] == expected[0].ravel().tolist()
