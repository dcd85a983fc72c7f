"""The repository of the TF Serving replay tests: TF Serving's half_plus_two and
half_plus_three imported with their version numbers, modelport classifiers and a regressor
(ONNX, and PMML where the extra is installed), and a string model with a `_bytes` output."""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.models import Sources
from tests.integration.servers import Server

HALF_PLUS_TWO = "saved_model_half_plus_two"
HALF_PLUS_THREE = "saved_model_half_plus_three"
REGRESSOR_COLUMNS = ["sepal_length", "sepal_width", "petal_length"]


@dataclass(frozen=True)
class PeerModels:
    root: Path
    regressor: Any  # LinearRegression of petal_width on REGRESSOR_COLUMNS
    pmml: bool  # whether the PMML classifier is there


def build_peer_repo(folder: Path, sources: Sources) -> PeerModels:
    from converters.pipeline import convert_file
    from gateway.control.artifacts import import_artifact
    from gateway.control.model_dirs import import_versions
    from model_repo.repository import Repository
    from tests.integration.tfserving_models import half_plus_three, half_plus_two

    repo = Repository(folder / "repo")
    tfserving = folder / "tfserving"
    import_versions(repo, half_plus_two(tfserving), HALF_PLUS_TWO)
    import_versions(repo, half_plus_three(tfserving), HALF_PLUS_THREE)
    convert_file(repo, sources.columns_file, "iris", "onnx")
    regressor = _regressor(folder / "petal.skops", sources)
    convert_file(repo, folder / "petal.skops", "petal", "onnx")
    strings_onnx(folder / "texts.onnx")
    import_artifact(repo, folder / "texts.onnx", "texts", "onnx")
    pmml = _has_pmml()
    if pmml:
        convert_file(repo, sources.columns_file, "iris_pmml", "pmml")
    return PeerModels(repo.root, regressor, pmml)


def strings_onnx(path: Path) -> None:
    """`text` (BYTES [-1]) passed through to `text_bytes` and `text_out`."""
    from onnx import TensorProto, helper, save

    nodes = [helper.make_node("Identity", ["text"], [out]) for out in ("text_bytes", "text_out")]
    graph = helper.make_graph(
        nodes,
        "texts",
        [helper.make_tensor_value_info("text", TensorProto.STRING, [None])],
        [
            helper.make_tensor_value_info(out, TensorProto.STRING, [None])
            for out in ("text_bytes", "text_out")
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))


def _regressor(path: Path, sources: Sources) -> Any:
    import skops.io
    from sklearn.linear_model import LinearRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LinearRegression().fit(
            sources.iris_x[REGRESSOR_COLUMNS], sources.iris_x["petal_width"]
        )
    skops.io.dump(model, path)
    return model


def _has_pmml() -> bool:
    try:
        import jpmml_evaluator  # noqa: F401
    except ImportError:
        return False
    return True


# What the tests served by this repository share: their xdist group and the tensorflow extra.
PEER_MARKS = [
    pytest.mark.xdist_group("gateway-tfserving-peer"),
    pytest.mark.tensorflow,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None, reason="needs the tensorflow extra"
    ),
]


def post_v1(peer: Server, path: str, body: Any) -> httpx.Response:
    """POST a TF Serving REST body to `/v1/models/{path}` of the peer server."""
    return httpx.post(f"{peer.url}/v1/models/{path}", json=body, timeout=30)
