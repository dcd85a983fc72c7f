"""TF Serving's gRPC API through a client built on tensorflow-serving-api, unchanged:
Predict (tensor_content and typed *_val fields), Classify, Regress, GetModelMetadata and
GetModelStatus, model_spec's version and version_label, on ONNX, PMML and SavedModel
models (TF Serving's half_plus_two, tests/integration/tfserving_models.py)."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.integration.models import IRIS_COLUMNS, Sources, iris_rows
from tests.integration.peer_repo import HALF_PLUS_TWO, REGRESSOR_COLUMNS, PeerModels
from tests.integration.servers import Server, running_server

pytestmark = [
    pytest.mark.xdist_group("gateway-grpc-tfserving"),
    pytest.mark.tensorflow,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow_serving") is None,
        reason="needs the tensorflow extra and tensorflow-serving-api",
    ),
]


@pytest.fixture(scope="module")
def server(peer_models: PeerModels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("grpc-tfserving")
    shutil.copytree(peer_models.root, folder / "repo")  # this module sets aliases
    with running_server(folder / "repo", folder / "server.log", grpc=True) as running:
        yield running


@pytest.fixture(scope="module")
def tf() -> Any:
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def apis() -> Any:
    from tensorflow_serving import apis  # noqa: F401 - the package the client imports
    from tensorflow_serving.apis import (
        classification_pb2,
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
        regression_pb2,
    )

    return {
        "predict": predict_pb2,
        "classification": classification_pb2,
        "regression": regression_pb2,
        "metadata": get_model_metadata_pb2,
        "status": get_model_status_pb2,
        "prediction_grpc": prediction_service_pb2_grpc,
        "model_grpc": model_service_pb2_grpc,
    }


@pytest.fixture(scope="module")
def channel(server: Server) -> Iterator[Any]:
    import grpc

    with grpc.insecure_channel(server.grpc_target) as found:
        yield found


@pytest.fixture(scope="module")
def stub(apis: Any, channel: Any) -> Any:
    return apis["prediction_grpc"].PredictionServiceStub(channel)


def predict_request(apis: Any, model: str, **spec: Any) -> Any:
    request = apis["predict"].PredictRequest()
    request.model_spec.name = model
    for key, value in spec.items():
        if key == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, key, value)
    return request


def column_tensors(tf: Any, request: Any, rows: np.ndarray, columns: list[str]) -> None:
    for i, column in enumerate(columns):
        request.inputs[column].CopyFrom(tf.make_tensor_proto(rows[:, [i]]))


def test_predict_with_tensor_content_on_onnx(
    tf: Any, apis: Any, stub: Any, sources: Sources
) -> None:
    rows = iris_rows(sources)
    request = predict_request(apis, "iris")
    column_tensors(tf, request, rows, IRIS_COLUMNS)
    assert request.inputs["sepal_length"].tensor_content  # what make_tensor_proto writes
    response = stub.Predict(request)
    assert (response.model_spec.name, response.model_spec.version.value) == ("iris", 1)
    assert response.model_spec.signature_name == "serving_default"
    frame = sources.iris_x.iloc[::30].head(len(rows))
    labels = tf.make_ndarray(response.outputs["label"])
    np.testing.assert_array_equal(labels, sources.columns_model.predict(frame))
    np.testing.assert_allclose(
        tf.make_ndarray(response.outputs["probabilities"]),
        sources.columns_model.predict_proba(frame),
        rtol=1e-5,
        atol=1e-6,
    )


def test_predict_with_typed_fields_and_an_output_filter(
    apis: Any, stub: Any, sources: Sources
) -> None:
    rows = iris_rows(sources, 2)
    request = predict_request(apis, "iris", version=1)
    for i, column in enumerate(IRIS_COLUMNS):
        tensor = request.inputs[column]
        tensor.dtype = 1  # DT_FLOAT
        tensor.tensor_shape.dim.add(size=2)
        tensor.tensor_shape.dim.add(size=1)
        tensor.float_val.extend(rows[:, i].tolist())
    request.output_filter.append("label")
    response = stub.Predict(request)
    assert list(response.outputs) == ["label"]
    frame = sources.iris_x.iloc[::30].head(2)
    assert (
        list(response.outputs["label"].int64_val) == sources.columns_model.predict(frame).tolist()
    )


def test_predict_on_a_savedmodel(tf: Any, apis: Any, stub: Any) -> None:
    request = predict_request(apis, HALF_PLUS_TWO)
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([[1.0], [2.0], [5.0]], np.float32)))
    response = stub.Predict(request)
    assert response.model_spec.version.value == 123
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["y"]), [[2.5], [3.0], [4.5]])


def examples(
    apis: Any, rows: list[dict[str, float]], context: dict[str, float] | None = None
) -> Any:
    from tensorflow.core.example import example_pb2

    def example(features: dict[str, float]) -> Any:
        found = example_pb2.Example()
        for name, value in features.items():
            found.features.feature[name].float_list.value.append(value)
        return found

    wrapper = apis["classification"].ClassificationRequest().input
    if context is None:
        wrapper.example_list.examples.extend(example(row) for row in rows)
    else:
        wrapper.example_list_with_context.examples.extend(example(row) for row in rows)
        wrapper.example_list_with_context.context.CopyFrom(example(context))
    return wrapper


@pytest.mark.parametrize("model", ["iris", pytest.param("iris_pmml", marks=pytest.mark.pmml)])
def test_classify_a_modelport_classifier(
    apis: Any, stub: Any, sources: Sources, peer_models: PeerModels, model: str
) -> None:
    if model == "iris_pmml" and not peer_models.pmml:
        pytest.skip("needs the pmml extra")
    rows = iris_rows(sources, 3)
    features = [dict(zip(IRIS_COLUMNS, map(float, row), strict=True)) for row in rows]
    context = {"sepal_width": features[0]["sepal_width"]}
    for row in features:
        del row["sepal_width"]
    request = apis["classification"].ClassificationRequest()
    request.model_spec.name = model
    request.input.CopyFrom(examples(apis, features, context))
    response = stub.Classify(request)
    assert response.model_spec.version.value == 1
    frame = sources.iris_x.iloc[::30].head(3).assign(sepal_width=context["sepal_width"])
    expected = sources.columns_model.predict_proba(frame)
    found = response.result.classifications
    assert [[c.label for c in row.classes] for row in found] == [["0", "1", "2"]] * 3
    np.testing.assert_allclose(
        [[c.score for c in row.classes] for row in found], expected, atol=1e-5
    )


def test_classify_and_regress_signatures_of_a_savedmodel(apis: Any, stub: Any) -> None:
    classify = apis["classification"].ClassificationRequest()
    classify.model_spec.name = HALF_PLUS_TWO
    classify.model_spec.signature_name = "classify_x_to_y"
    classify.input.CopyFrom(examples(apis, [{"x": 20.0}]))
    found = stub.Classify(classify)
    assert [(c.label, c.score) for c in found.result.classifications[0].classes] == [("", 12.0)]
    assert found.model_spec.signature_name == "classify_x_to_y"
    regress = apis["regression"].RegressionRequest()
    regress.model_spec.name = HALF_PLUS_TWO
    regress.model_spec.signature_name = "regress_x_to_y2"
    regress.input.CopyFrom(examples(apis, [{"x": 2.0}, {"x": 4.0}], context={"x2": 7.0}))
    assert [r.value for r in stub.Regress(regress).result.regressions] == [4.0, 5.0]


def test_regress_a_modelport_regressor(
    apis: Any, stub: Any, sources: Sources, peer_models: PeerModels
) -> None:
    frame = sources.iris_x[REGRESSOR_COLUMNS].iloc[::40]
    rows = [dict(zip(REGRESSOR_COLUMNS, map(float, r), strict=True)) for r in frame.to_numpy()]
    request = apis["regression"].RegressionRequest()
    request.model_spec.name = "petal"
    request.input.CopyFrom(examples(apis, rows))
    values = [r.value for r in stub.Regress(request).result.regressions]
    np.testing.assert_allclose(values, peer_models.regressor.predict(frame), rtol=1e-5, atol=1e-5)


def test_metadata_is_the_signature_def_map(apis: Any, stub: Any) -> None:
    request = apis["metadata"].GetModelMetadataRequest()
    request.model_spec.name = HALF_PLUS_TWO
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request)
    assert response.model_spec.version.value == 123
    signatures = apis["metadata"].SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signatures)
    found = signatures.signature_def
    assert sorted(found) == sorted(
        ["serving_default", "regress_x_to_y", "regress_x_to_y2", "regress_x2_to_y3",
         "classify_x_to_y", "classify_x2_to_y3"]
    )  # fmt: skip
    assert found["classify_x_to_y"].method_name == "tensorflow/serving/classify"
    assert found["serving_default"].inputs["x"].name == "x:0"
    assert [d.size for d in found["serving_default"].inputs["x"].tensor_shape.dim] == [-1, 1]
    assert found["regress_x_to_y"].inputs["inputs"].tensor_shape.unknown_rank
    request.metadata_field[:] = []
    with pytest.raises(Exception, match="metadata_field must be"):
        stub.GetModelMetadata(request)


def test_status_versions_and_labels(server: Server, apis: Any, channel: Any, stub: Any) -> None:
    import grpc

    models = apis["model_grpc"].ModelServiceStub(channel)
    status = apis["status"].GetModelStatusRequest()
    status.model_spec.name = HALF_PLUS_TWO
    (version,) = models.GetModelStatus(status).model_version_status
    assert (version.version, apis["status"].ModelVersionStatus.State.Name(version.state)) == (
        123,
        "AVAILABLE",
    )
    alias = httpx.put(
        f"{server.url}/v2/repository/models/{HALF_PLUS_TWO}/aliases/stable",
        json={"version": 123},
        headers=server.admin,
    )
    assert alias.status_code == 200, alias.text
    request = predict_request(apis, HALF_PLUS_TWO, version_label="stable")
    request.inputs["x"].dtype = 1
    request.inputs["x"].tensor_shape.dim.add(size=1)
    request.inputs["x"].tensor_shape.dim.add(size=1)
    request.inputs["x"].float_val.append(4.0)
    assert stub.Predict(request).model_spec.version.value == 123
    status.model_spec.version_label = "stable"
    assert [v.version for v in models.GetModelStatus(status).model_version_status] == [123]
    for spec, code, phrase in [
        ({"version_label": "nope"}, grpc.StatusCode.INVALID_ARGUMENT, "no alias 'nope'"),
        ({"version": 7}, grpc.StatusCode.NOT_FOUND, "version 7"),
        ({"version_label": "123"}, grpc.StatusCode.INVALID_ARGUMENT, "use model_spec.version"),
    ]:
        wrong = predict_request(apis, HALF_PLUS_TWO, **spec)
        wrong.inputs["x"].CopyFrom(request.inputs["x"])
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(wrong)
        assert caught.value.code() == code and phrase in caught.value.details(), spec
