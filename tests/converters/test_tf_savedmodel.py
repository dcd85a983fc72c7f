"""Keras / TensorFlow -> SavedModel through the real exporter and TensorFlow runtime."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converters.errors import ModelLoadError, UnsupportedConversion
from converters.pipeline import convert_file
from model_repo import Repository

pytestmark = [
    pytest.mark.tensorflow,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None, reason="needs the tensorflow extra"
    ),
]
FRESH_ROWS = 5  # differs from the synthesised sample's 256 rows


def _sequential(keras: Any) -> Any:
    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _two_inputs(keras: Any) -> Any:
    numbers = keras.Input(shape=(4,), name="numbers")
    extra = keras.Input(shape=(2,), name="extra")
    hidden = keras.layers.Dense(8, activation="tanh")(keras.layers.Concatenate()([numbers, extra]))
    score = keras.layers.Dense(1)(hidden)
    classes = keras.layers.Dense(2, activation="softmax")(hidden)
    return keras.Model([numbers, extra], [score, classes])


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Each model saved as a user would, next to something that runs the original."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("tf-models")
    sequential, functional = _sequential(keras), _two_inputs(keras)
    sequential.save(folder / "sequential.keras")
    functional.save(folder / "functional.keras")

    module = tf.Module()
    module.w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 10)
    module.scale = tf.function(
        lambda x: {"scaled": tf.matmul(x, module.w) + 1.0},
        input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")],
    )
    tf.saved_model.save(module, str(folder / "plain"), signatures={"serving_default": module.scale})
    (folder / "broken.keras").write_bytes(b"PK\x03\x04 this is no zip")
    return {
        "sequential": (folder / "sequential.keras", sequential),
        "functional": (folder / "functional.keras", functional),
        "plain": (folder / "plain", module.scale),
        "broken": (folder / "broken.keras", None),
    }


def _fresh(signature_inputs: Any, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        s.name: rng.standard_normal((FRESH_ROWS, *s.shape[1:])).astype(np.float32)
        for s in signature_inputs
    }


@pytest.mark.parametrize(
    ("case", "inputs", "outputs"),
    [
        ("sequential", {"input_layer": [-1, 4]}, {"output_0": [-1, 3]}),
        (
            "functional",
            {"extra": [-1, 2], "numbers": [-1, 4]},
            {"output_0": [-1, 1], "output_1": [-1, 2]},
        ),
    ],
)
def test_keras_model_is_served_like_keras_runs_it(
    tmp_path: Path,
    models: dict[str, tuple[Path, Any]],
    case: str,
    inputs: dict[str, list[int]],
    outputs: dict[str, list[int]],
) -> None:
    path, model = models[case]
    repo = Repository(tmp_path)
    manifest = convert_file(repo, path, case, "savedmodel")

    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.provenance.converter == "tf_savedmodel"
    assert manifest.notes["export"] == "keras.Model.export"
    assert {t.name: list(t.shape) for t in manifest.signature.inputs} == inputs
    assert {t.name: list(t.shape) for t in manifest.signature.outputs} == outputs
    assert (repo.version_dir(case, manifest.version) / "saved_model" / "saved_model.pb").is_file()

    fresh = _fresh(manifest.signature.inputs, seed=1)
    _, predictor = repo.open(case, manifest.version)
    try:
        got = predictor.predict(fresh)
    finally:
        predictor.close()
    x = fresh["input_layer"] if case == "sequential" else [fresh["numbers"], fresh["extra"]]
    expected = model(x, training=False)
    expected = expected if isinstance(expected, list) else [expected]
    assert sorted(got) == sorted(outputs)
    for i, want in enumerate(expected):
        np.testing.assert_allclose(got[f"output_{i}"], want.numpy(), rtol=1e-3, atol=1e-4)


def test_saved_model_directory_is_copied_and_checked(
    tmp_path: Path, models: dict[str, tuple[Path, Any]]
) -> None:
    path, function = models["plain"]
    repo = Repository(tmp_path)
    manifest = convert_file(repo, path, "plain", "savedmodel")

    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.notes["export"] == "copied"
    assert manifest.signature.to_dict() == {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}],
        "outputs": [{"name": "scaled", "datatype": "FP32", "shape": [-1, 2]}],
    }
    fresh = _fresh(manifest.signature.inputs, seed=2)
    _, predictor = repo.open("plain", manifest.version)
    got = predictor.predict(fresh)
    np.testing.assert_allclose(got["scaled"], function(fresh["x"])["scaled"].numpy(), rtol=1e-6)


def test_keras_to_onnx_names_what_tensorflow_converts_to(
    tmp_path: Path, models: dict[str, tuple[Path, Any]]
) -> None:
    repo = Repository(tmp_path)
    with pytest.raises(
        UnsupportedConversion,
        match=r"no converter from tensorflow to onnx; tensorflow models can be converted to: "
        r"savedmodel",
    ):
        convert_file(repo, models["sequential"][0], "sequential", "onnx")
    assert repo.models() == []


def test_a_corrupt_keras_file_is_refused(
    tmp_path: Path, models: dict[str, tuple[Path, Any]]
) -> None:
    repo = Repository(tmp_path)
    with pytest.raises(ModelLoadError, match=r"broken\.keras is not a Keras model"):
        convert_file(repo, models["broken"][0], "broken", "savedmodel")
    assert repo.models() == []


def test_a_keras_model_taking_strings_is_refused_clearly(tmp_path: Path) -> None:
    import keras

    text = keras.Input(shape=(1,), dtype="string", name="text")
    ids = keras.layers.StringLookup(vocabulary=["a", "b"], output_mode="one_hot")(text)
    model = keras.Model(text, keras.layers.Dense(2)(keras.layers.Flatten()(ids)))
    path = tmp_path / "text.keras"
    model.save(path)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(
        UnsupportedConversion, match=r"text\.keras: input 'text' has dtype string, which"
    ):
        convert_file(repo, path, "text", "savedmodel")
    assert repo.models() == []


def test_a_subclassed_keras_model_without_declared_inputs_is_refused(tmp_path: Path) -> None:
    import keras

    @keras.saving.register_keras_serializable(package="modelport_tests")
    class Doubler(keras.Model):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, x: Any) -> Any:
            return self.dense(x) * 2

    model = Doubler()
    model(np.zeros((1, 3), np.float32))
    path = tmp_path / "doubler.keras"
    model.save(path)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(
        UnsupportedConversion,
        match=r"doubler\.keras is a subclassed Keras model with no declared inputs; build it as "
        r"a Sequential or functional model .*model\.export\('saved_model'\)",
    ):
        convert_file(repo, path, "doubler", "savedmodel")
    assert repo.models() == []


def test_a_keras_file_with_a_python_lambda_is_refused_unloaded(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input(shape=(3,), name="x")
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(ModelLoadError) as info:
        convert_file(repo, path, "lambda", "savedmodel")
    message = str(info.value)
    assert message.startswith("lambda.keras is not a Keras model Keras")
    assert "can load safely" in message and "Lambda layers are refused" in message
    assert repo.models() == []


def test_a_saved_model_without_a_serving_signature_is_refused(tmp_path: Path) -> None:
    import tensorflow as tf

    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.apply = tf.function(
        lambda x: x * module.scale, input_signature=[tf.TensorSpec([None, 3], tf.float32)]
    )
    tf.saved_model.save(module, str(tmp_path / "unsigned"), signatures={})
    repo = Repository(tmp_path / "repo")
    with pytest.raises(
        ModelLoadError,
        match=r"the SavedModel unsigned has no 'serving_default' signature, so there is nothing "
        r"to serve; export it with model\.export",
    ):
        convert_file(repo, tmp_path / "unsigned", "unsigned", "savedmodel")
    assert repo.models() == []
