"""TF Serving's classify and regress on modelport's own classifiers and regressors (ONNX,
PMML), features fed to the inputs of their names; `_bytes` outputs as b64. httpx against a
real server (the TF Serving replay's, tests/integration/peer_repo.py)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import numpy as np
import pytest

from tests.integration.models import IRIS_COLUMNS, Sources, iris_rows
from tests.integration.peer_repo import PEER_MARKS, REGRESSOR_COLUMNS, PeerModels, post_v1
from tests.integration.servers import Server

pytestmark = PEER_MARKS


def _examples(rows: np.ndarray, columns: list[str]) -> list[dict[str, float]]:
    return [dict(zip(columns, map(float, row), strict=True)) for row in rows]


@pytest.mark.parametrize("model", ["iris", pytest.param("iris_pmml", marks=pytest.mark.pmml)])
def test_classify_a_modelport_classifier_by_feature_names(
    peer: Server, peer_models: PeerModels, sources: Sources, model: str
) -> None:
    if model == "iris_pmml" and not peer_models.pmml:
        pytest.skip("needs the pmml extra")
    rows = iris_rows(sources, 3)
    examples = _examples(rows, IRIS_COLUMNS)
    context = {"sepal_width": examples[0].pop("sepal_width")}  # one value for every example
    for example in examples[1:]:
        example.pop("sepal_width")
    response = post_v1(peer, f"{model}:classify", {"context": context, "examples": examples})
    assert response.status_code == 200, response.text
    frame = sources.iris_x.iloc[::30].head(3).assign(sepal_width=context["sepal_width"])
    expected = sources.columns_model.predict_proba(frame)
    results = response.json()["results"]
    assert [[label for label, _ in result] for result in results] == [["0", "1", "2"]] * 3
    np.testing.assert_allclose(
        [[score for _, score in result] for result in results], expected, atol=1e-5
    )


def test_regress_a_modelport_regressor_by_feature_names(
    peer: Server, peer_models: PeerModels, sources: Sources
) -> None:
    frame = sources.iris_x[REGRESSOR_COLUMNS].iloc[::40]
    examples = _examples(frame.to_numpy(), REGRESSOR_COLUMNS)
    response = post_v1(peer, "petal:regress", {"examples": examples})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(
        response.json()["results"], peer_models.regressor.predict(frame), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    ("path", "body", "phrase"),
    [
        ("iris:classify", {"examples": [{"sepal_length": 1.0}]}, "no feature 'sepal_width'"),
        ("petal:classify", {"examples": [{"sepal_length": 1.0}]}, "cannot classify"),
        ("iris:regress", {"examples": [{"sepal_length": 1.0}]}, "cannot regress"),
        ("iris:classify", {"examples": [{"sepal_length": True}]}, "not a feature value"),
        ("iris:classify", {"examples": [{"a": 1}], "context": {"a": 2}}, "repeats context"),
        ("texts:classify", {"examples": [{"text": "x"}]}, "cannot classify"),
    ],
)
def test_examples_that_cannot_be_served_are_named(
    peer: Server, path: str, body: Any, phrase: str
) -> None:
    response = post_v1(peer, path, body)
    assert response.status_code == 400, response.text
    assert phrase in response.json()["error"]


def test_string_outputs_named_bytes_are_b64_the_others_text(peer: Server) -> None:
    words = [b"\x00\x01raw", "wörld".encode()]  # onnxruntime's strings must be UTF-8
    instances = [{"b64": base64.b64encode(w).decode()} for w in words]
    rows = post_v1(peer, "texts:predict", {"instances": instances})
    assert rows.status_code == 200, rows.text
    assert rows.json() == {
        "predictions": [
            {"text_bytes": {"b64": base64.b64encode(w).decode()}, "text_out": text}
            for w, text in zip(words, ["\x00\x01raw", "wörld"], strict=True)
        ]
    }
    columns = post_v1(peer, "texts:predict", {"inputs": ["plain"]})
    assert columns.json() == {
        "outputs": {"text_bytes": [{"b64": "cGxhaW4="}], "text_out": ["plain"]}
    }


def test_metadata_of_other_formats_is_their_one_signature(peer: Server) -> None:
    metadata = httpx.get(f"{peer.url}/v1/models/petal/metadata").json()
    (signature,) = metadata["metadata"]["signature_def"]["signature_def"].values()
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert signature["inputs"]["sepal_length"]["name"] == "sepal_length"
    assert signature["outputs"]["prediction"]["dtype"] == "DT_FLOAT"
