"""scikit-learn -> PMML through the real sklearn2pmml (Java) and the real JPMML evaluator."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converters import _pmml_java
from converters.base import SourceModel
from converters.errors import ConversionError, UnsupportedConversion
from converters.pipeline import convert_file
from converters.sklearn_pmml import CONVERTER, SklearnToPmml
from converters.sklearn_synth import synthesize
from model_repo import Manifest, Repository
from model_repo.errors import DependencyMissing
from tests.converters.agreement import as_source_takes_it, contract_tensors
from tests.sklearn_cases import cases

pytestmark = pytest.mark.pmml

# svc (probability=True) and knn (a classifier) are refused for PMML: tested below.
PMML_CASES = [c.name for c in cases() if c.name not in ("svc", "knn")]
DATA_OF = {c.name: c.data for c in cases()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repository:
    return Repository(tmp_path_factory.mktemp("pmml-repo"))


@pytest.fixture(scope="module")
def converted(
    repo: Repository, sklearn_files: dict[str, tuple[Path, Any]]
) -> Callable[[str], Manifest]:
    """Each case converted once per module, on first use."""
    done: dict[str, Manifest] = {}

    def get(case: str) -> Manifest:
        if case not in done:
            done[case] = convert_file(repo, sklearn_files[case][0], case, "pmml")
        return done[case]

    return get


def _assert_serves_like_sklearn(
    repo: Repository, manifest: Manifest, model: Any, fresh: Any
) -> None:
    _, predictor = repo.open(manifest.name, manifest.version)
    got = predictor.predict(contract_tensors(fresh, manifest.signature.input_names))
    x = as_source_takes_it(fresh)
    if "label" in got:
        np.testing.assert_array_equal(got["label"].astype(str), model.predict(x).astype(str))
        assert got["probabilities"].dtype == np.float32
        np.testing.assert_allclose(
            got["probabilities"], model.predict_proba(x), rtol=1e-6, atol=1e-7
        )
        assert manifest.labels == tuple(model.classes_.tolist())
    else:
        assert got["prediction"].dtype == np.float32
        np.testing.assert_allclose(got["prediction"], model.predict(x), rtol=1e-6, atol=1e-6)
    first = {k: v[:1] for k, v in contract_tensors(fresh, manifest.signature.input_names).items()}
    single = predictor.predict(first)  # the one-row path (`evaluate`) agrees with the batch
    for name, values in single.items():
        np.testing.assert_array_equal(values, got[name][:1])


@pytest.mark.parametrize("case", PMML_CASES)
def test_parity_and_served_predictions_match_sklearn(
    case: str,
    repo: Repository,
    converted: Callable[[str], Manifest],
    sklearn_files: dict[str, tuple[Path, Any]],
    sklearn_data: Any,
) -> None:
    manifest = converted(case)
    assert manifest.parity is not None and manifest.parity.passed and not manifest.parity.forced
    assert manifest.parity.tolerance.mismatch_budget == 0
    assert manifest.provenance.converter == "sklearn_pmml"
    assert manifest.provenance.libraries["sklearn2pmml"] == "0.133.1"
    _assert_serves_like_sklearn(
        repo, manifest, sklearn_files[case][1], sklearn_data[DATA_OF[case]][2]
    )


@pytest.mark.parametrize("case", PMML_CASES)
def test_signature_and_served_response_are_exactly_the_onnx_ones(
    case: str,
    tmp_path: Path,
    repo: Repository,
    converted: Callable[[str], Manifest],
    sklearn_files: dict[str, tuple[Path, Any]],
    sklearn_data: Any,
) -> None:
    onnx_repo = Repository(tmp_path)
    onnx = convert_file(onnx_repo, sklearn_files[case][0], case, "onnx")
    pmml = converted(case)
    assert pmml.signature == onnx.signature
    assert pmml.labels == onnx.labels
    # The same request to both artifacts: the same outputs, shapes and dtypes.
    request = contract_tensors(sklearn_data[DATA_OF[case]][2], onnx.signature.input_names)
    answers = []
    for store, manifest in ((onnx_repo, onnx), (repo, pmml)):
        _, predictor = store.open(manifest.name, manifest.version)
        try:
            answers.append(predictor.predict(request))
        finally:
            predictor.close()
    from_onnx, from_pmml = answers
    assert sorted(from_onnx) == sorted(from_pmml) == sorted(onnx.signature.output_names)
    for name, values in from_onnx.items():
        assert (values.shape, values.dtype) == (from_pmml[name].shape, from_pmml[name].dtype), name


def test_knn_regressor_converts_quietly(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], sklearn_data: Any
) -> None:
    from sklearn.neighbors import KNeighborsRegressor

    x, y, fresh = sklearn_data["regression"]  # continuous features: no distance ties
    model = KNeighborsRegressor(4).fit(x, y)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, _save(tmp_path, model), "knn", "pmml")
    assert manifest.parity is not None and manifest.parity.passed
    _assert_serves_like_sklearn(repo, manifest, model, fresh)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no banner, no Java log


def _save(folder: Path, model: Any, name: str = "model") -> Path:
    import skops.io

    path = folder / f"{name}.skops"
    skops.io.dump(model, path)
    return path


def test_step_without_pmml_converter_names_step_and_onnx(tmp_path: Path) -> None:
    from sklearn.decomposition import KernelPCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    x = np.random.default_rng(0).normal(size=(60, 3))
    model = make_pipeline(KernelPCA(2), LogisticRegression()).fit(x, x[:, 0] > 0)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(UnsupportedConversion) as info:
        convert_file(repo, _save(tmp_path, model), "kpca", "pmml")
    message = str(info.value)
    assert "Pipeline/kernelpca" in message and "KernelPCA" in message
    assert "has no pmml converter" in message and "formats that support it: onnx" in message
    assert repo.versions("kpca") == []


@pytest.mark.parametrize("case", ["svc", "knn"])
def test_classifier_without_pmml_probabilities_is_refused_before_java(
    case: str, tmp_path: Path, sklearn_files: dict[str, tuple[Path, Any]]
) -> None:
    repo = Repository(tmp_path)
    with pytest.raises(UnsupportedConversion) as info:
        convert_file(repo, sklearn_files[case][0], case, "pmml")
    message = str(info.value)
    assert "exports it without them" in message and "Formats that support it: onnx" in message
    assert repo.versions(case) == []


def _failing_source(tmp_path: Path) -> SourceModel:
    """A model every check passes but JPMML-SkLearn refuses: an unsupported metric."""
    from sklearn.neighbors import KNeighborsRegressor

    x = np.random.default_rng(0).normal(size=(30, 2))
    model = KNeighborsRegressor(3, metric="cosine", algorithm="brute").fit(x, x[:, 0])
    return SourceModel("sklearn", model, tmp_path / "cosine.skops", "skops")


def test_java_failure_is_a_clear_error_and_stdout_stays_clean(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = _failing_source(tmp_path)
    with pytest.raises(UnsupportedConversion) as info:
        CONVERTER.export(source, synthesize(source, 8, 0), tmp_path)
    message = str(info.value)
    assert "Attribute 'metric' has an unsupported value 'cosine'" in message
    assert "suggested fix: Use one of the supported values" in message
    assert capfd.readouterr().out == ""


@pytest.fixture
def incident_listener() -> Iterator[tuple[int, list[bytes]]]:
    """A local HTTP proxy stand-in that records what connects to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(60)
    received: list[bytes] = []

    def accept() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(30)
            received.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    server.close()
    thread.join(timeout=5)


def test_incident_report_goes_only_where_the_proxy_options_send_it(
    tmp_path: Path, incident_listener: tuple[int, list[bytes]]
) -> None:
    port, received = incident_listener
    source = _failing_source(tmp_path)
    with pytest.raises(UnsupportedConversion):
        SklearnToPmml(port).export(source, synthesize(source, 8, 0), tmp_path)
    # The same options, pointed at a listener, carry the POST to telemetry.jpmml.org: so in
    # production they carry it to a port that refuses every connection.
    assert received and received[0].startswith(b"CONNECT telemetry.jpmml.org:443 ")
    with _pmml_java.refused_port() as refused, pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", refused), timeout=5)
    options = _pmml_java.converter_java_opts(refused)
    assert f"-Dhttps.proxyPort={refused}" in options and "-Djdk.net.hosts.file=/dev/null" in options


def test_missing_java_is_dependency_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sklearn_files: dict[str, tuple[Path, Any]]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no java on it
    monkeypatch.delenv("JAVA_HOME", raising=False)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(DependencyMissing, match=r"Java was not found.*JAVA_HOME"):
        convert_file(repo, sklearn_files["logistic"][0], "lr", "pmml")
    assert repo.versions("lr") == []


def test_old_java_is_dependency_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_292\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(DependencyMissing, match=r"Java 1\.8\.0_292 .* too old.*Java 11"):
        CONVERTER.check_environment()


@pytest.mark.parametrize(
    ("version", "major"), [("17.0.15", 17), ("1.8.0_292", 8), ("11", 11), ("21-ea", 21)]
)
def test_java_major_version(version: str, major: int) -> None:
    assert _pmml_java.java_major(version) == major


def test_newer_scikit_learn_is_refused_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    import sklearn

    assert _pmml_java.newest_sklearn_accepted() == "1.9.0"
    monkeypatch.setattr(sklearn, "__version__", "1.9.1")
    with pytest.raises(DependencyMissing, match=r"library version refused.*up to 1\.9\.0.*1\.9\.1"):
        CONVERTER.check_environment()


def test_newer_scikit_learn_refused_by_java_is_dependency_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sklearn.base
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(0).normal(size=(20, 2))
    source = SourceModel("sklearn", LinearRegression().fit(x, x[:, 0]), tmp_path / "m", "skops")
    monkeypatch.setattr(sklearn.base, "__version__", "1.9.1")  # pickled as _sklearn_version
    with pytest.raises(DependencyMissing, match=r"refused.*'1\.9\.1' is not supported.*'1\.9\.0'"):
        CONVERTER.export(source, synthesize(source, 8, 0), tmp_path)


def test_expired_sklearn2pmml_is_refused() -> None:
    built = _pmml_java.build_timestamp()
    assert built is not None
    _pmml_java.check_not_expired(built + timedelta(days=30))
    with pytest.raises(DependencyMissing, match="refuses to run 360 days"):
        _pmml_java.check_not_expired(built + timedelta(days=361))


def test_supports_reads_the_class_mapping_without_java() -> None:
    from sklearn.decomposition import KernelPCA
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    assert CONVERTER.supports(SVC) and CONVERTER.supports(Pipeline)
    assert not CONVERTER.supports(KernelPCA)


def test_an_evaluator_refusing_a_sample_value_is_a_conversion_error(tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"color": ["red", "blue"] * 10, "size": np.arange(20.0)})
    encode = ColumnTransformer([("c", OneHotEncoder(), ["color"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(frame, (frame["size"] > 9) * 1)
    sample = tmp_path / "sample.csv"
    pd.DataFrame({"color": ["red", "purple"], "size": [1.0, 2.0]}).to_csv(sample, index=False)
    repo = Repository(tmp_path / "repo")
    # JPMML refuses the unknown category (an InvalidArgument from the predictor): that is
    # the conversion failing on its sample, not a usage error of the command.
    with pytest.raises(ConversionError) as info:
        convert_file(repo, _save(tmp_path, model), "colors", "pmml", sample_path=sample)
    message = str(info.value)
    assert message.startswith(
        "the converted pmml artifact fails on the parity sample (file:sample.csv): PMML "
        "evaluation failed"
    )
    assert "purple" in message and "Nothing was published" in message
    assert repo.versions("colors") == []


def test_an_encoder_fed_the_columns_directly_converts_with_typed_inputs(tmp_path: Path) -> None:
    """No ColumnTransformer: the first step's encoder tells which columns are strings, and
    the synthesized sample draws them from its categories (JPMML refuses any other)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"color": rng.choice(["red", "blue"], 80), "grade": rng.integers(1, 4, 80).astype(float)}
    )
    label = ((frame["color"] == "red") ^ (frame["grade"] > 2)).to_numpy().astype(int)
    model = make_pipeline(OneHotEncoder(), LogisticRegression()).fit(frame, label)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, _save(tmp_path, model), "plain", "pmml")
    assert {(s.name, s.datatype) for s in manifest.signature.inputs} == {
        ("color", "BYTES"),
        ("grade", "FP32"),
    }
    assert manifest.parity is not None and manifest.parity.passed
    _assert_serves_like_sklearn(repo, manifest, model, frame.tail(12))


@pytest.mark.parametrize(
    ("case", "fields"),
    [
        ("forest", ["y", "x1", "x2", "x3", "x4", "x5", "x6"]),
        ("columns", ["y", "color", "size", "weight"]),
    ],
)
def test_pmml_fields_are_named_after_the_columns_or_x1_to_xn(
    case: str, fields: list[str], repo: Repository, converted: Callable[[str], Manifest]
) -> None:
    import xml.etree.ElementTree as ET

    manifest = converted(case)
    document = ET.parse(repo.artifact_path(case, manifest.version)).getroot()
    names = [e.get("name") for e in document.iter() if e.tag.endswith("}DataField")]
    assert names == fields
