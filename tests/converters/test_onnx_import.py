"""Uploaded ONNX models onnxruntime refuses: old opsets upgraded, missing locales replaced,
each rewrite checked against the original in onnx's reference evaluator.

The old-opset models are the ONNX project's own backend test models (opset 6), shipped in the
onnx package; onnxruntime refuses them as they are."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from converters.errors import ConversionError, ParityFailure
from converters.onnx_import import check, make_servable
from converters.onnx_locale import DEFAULT_LOCALE, FALLBACK_LOCALE, runtime_has_locale
from converters.onnx_upgrade import TARGET_OPSET, op_changes
from model_repo.errors import ArtifactError
from model_repo.formats.onnx import FORMAT
from model_repo.signature import Signature
from tests.artifacts import onnx_backend_case, write_tiny_onnx


def _copy(name: str, tmp_path: Path) -> tuple[Path, list[np.ndarray], list[np.ndarray]]:
    original, inputs, outputs = onnx_backend_case(name)
    path = tmp_path / "model.onnx"
    shutil.copyfile(original, path)
    return path, inputs, outputs


def _serve(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    signature = FORMAT.describe(path)
    predictor = FORMAT.open(path, signature)
    try:
        return list(
            predictor.predict(dict(zip(signature.input_names, inputs, strict=True))).values()
        )
    finally:
        predictor.close()


@pytest.mark.parametrize(
    ("name", "changed"),
    [
        ("test_AvgPool2d", "AveragePool-1 -> AveragePool-19"),
        ("test_BatchNorm2d_eval", "BatchNormalization-6 -> BatchNormalization-15"),
        ("test_Linear", "Gemm-6 -> Gemm-13"),
    ],
)
def test_an_old_opset_model_is_upgraded_checked_and_answers_as_onnx_expects(
    tmp_path: Path, name: str, changed: str
) -> None:
    path, inputs, expected = _copy(name, tmp_path)
    with pytest.raises(ArtifactError, match="Could not find an implementation"):
        FORMAT.open(path)  # what the issue reported
    signature = FORMAT.describe(path)

    rewrite = make_servable(path, signature, f"{name}.onnx")

    assert rewrite is not None and rewrite.converter == "onnx.version_converter"
    upgrade = rewrite.notes["opset_upgrade"]
    assert (upgrade["from_opset"], upgrade["to_opset"]) == (6, TARGET_OPSET)
    assert changed in upgrade["changed_ops"]
    assert rewrite.parity.passed and rewrite.parity.sample_size >= 1
    assert all(o.max_abs_error < 1e-4 for o in rewrite.parity.outputs.values())
    assert FORMAT.describe(path) == signature  # clients see the same inputs and outputs
    # The published file answers the backend test's own inputs as the ONNX project recorded.
    for got, want in zip(_serve(path, inputs), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_an_upgrade_onnxruntime_then_fails_on_is_refused_naming_the_op(tmp_path: Path) -> None:
    # PRelu-6 applied a [C] slope per channel; PRelu-16 broadcasts it from the right, and the
    # converter leaves the slope as it is: the upgrade loads but fails on any real input.
    path, _inputs, _outputs = _copy("test_PReLU_2d_multiparam", tmp_path)
    with pytest.raises(ConversionError, match=r"opset 6 to 21 \(PRelu-6 -> PRelu-16\)"):
        make_servable(path, FORMAT.describe(path), "prelu.onnx")


def test_a_model_onnxruntime_opens_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    signature = write_tiny_onnx(path)
    before = path.read_bytes()
    assert make_servable(path, signature, "tiny.onnx") is None
    assert path.read_bytes() == before


def test_a_refusal_no_upgrade_can_help_is_raised_unchanged(tmp_path: Path) -> None:
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")],
        "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
    )
    opsets = [helper.make_opsetid("", TARGET_OPSET), helper.make_opsetid("com.example", 1)]
    path = tmp_path / "custom.onnx"
    save(helper.make_model(graph, opset_imports=opsets), str(path))
    with pytest.raises(ArtifactError, match="Frobnicate") as refused:
        make_servable(path, FORMAT.describe(path), "custom.onnx")
    assert str(tmp_path) not in str(refused.value)  # the staging path means nothing to users


def test_an_upgrade_that_does_not_help_says_so(tmp_path: Path) -> None:
    # Opset 12, but refused for its training-domain Gradient op, which no opset upgrade adds.
    path, _inputs, _outputs = _copy("test_gradient_of_add", tmp_path)
    with pytest.raises(ConversionError, match=r"does not help.*for the same reason"):
        make_servable(path, FORMAT.describe(path), "gradient.onnx")


def _add_model(path: Path, constant: float, opset: int) -> Signature:
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "c"], ["y"])],
        "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        initializer=[helper.make_tensor("c", TensorProto.FLOAT, [1], [constant])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    save(model, str(path))
    return FORMAT.describe(path)


def test_the_check_fails_when_the_rewrite_answers_differently(tmp_path: Path) -> None:
    import onnx

    original_path, rewritten = tmp_path / "original.onnx", tmp_path / "rewritten.onnx"
    signature = _add_model(original_path, 1.0, 13)
    _add_model(rewritten, 1.01, TARGET_OPSET)
    original = onnx.load(str(original_path))
    with pytest.raises(ParityFailure, match="does not answer like the original") as failed:
        check(original, rewritten, signature, "add.onnx", "upgraded")
    report = failed.value.report
    assert not report.passed and report.outputs["y"].max_abs_error == pytest.approx(0.01, rel=1e-3)

    assert check(original, original_path, signature, "add.onnx", "as is").passed


def test_op_changes_lists_only_the_ops_whose_schema_moved() -> None:
    import onnx

    model = onnx.load(str(onnx_backend_case("test_BatchNorm2d_eval")[0]))
    assert op_changes(model, 6, 21) == ["BatchNormalization-6 -> BatchNormalization-15"]
    assert op_changes(model, 15, 21) == []


def _strnorm(path: Path, locale: str | None) -> None:
    from onnx import TensorProto, helper, save

    attributes = {"case_change_action": "UPPER", "stopwords": ["monday"], "is_case_sensitive": 0}
    if locale is not None:
        attributes["locale"] = locale
    graph = helper.make_graph(
        [helper.make_node("StringNormalizer", ["x"], ["y"], **attributes)],
        "strnorm",
        [helper.make_tensor_value_info("x", TensorProto.STRING, [None])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, [None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)])
    model.ir_version = 8
    save(model, str(path))


def test_a_missing_english_locale_is_replaced_by_c_utf8_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "strnorm.onnx"
    _strnorm(path, "en_ZZ.UTF-8")  # an English locale no machine has
    with pytest.raises(ArtifactError, match="Failed to construct locale"):
        FORMAT.open(path)
    rewrite = make_servable(path, FORMAT.describe(path), "strnorm.onnx")
    assert rewrite is not None and rewrite.converter == "onnx_locale_fallback"
    assert rewrite.notes["string_normalizer_locale"] == {
        "from": ["en_ZZ.UTF-8"],
        "to": FALLBACK_LOCALE,
        "nodes": ["node 0"],
    }
    assert rewrite.parity.passed
    words = np.array(["Monday", "straße", "élan", "tuesday"], dtype=object)
    assert _serve(path, [words])[0].tolist() == ["STRAßE", "ÉLAN", "TUESDAY"]


def test_a_missing_locale_of_another_language_is_refused_with_the_way_out(
    tmp_path: Path,
) -> None:
    path = tmp_path / "strnorm.onnx"
    _strnorm(path, "tr_ZZ.UTF-8")
    with pytest.raises(ArtifactError, match=r"locale tr_ZZ\.UTF-8.*locale-gen"):
        make_servable(path, FORMAT.describe(path), "strnorm.onnx")


def test_the_backend_string_normalizer_models_serve_whatever_locales_are_installed(
    tmp_path: Path,
) -> None:
    path, inputs, expected = _copy("test_strnorm_model_monday_casesensintive_upper", tmp_path)
    rewrite = make_servable(path, FORMAT.describe(path), "strnorm.onnx")
    if runtime_has_locale(DEFAULT_LOCALE):  # the Docker image: served as it is
        assert rewrite is None
    else:  # a minimal machine: pointed at C.UTF-8, as the manifest says
        assert rewrite is not None
        assert rewrite.notes["string_normalizer_locale"]["from"] == [DEFAULT_LOCALE]
    assert _serve(path, inputs)[0].tolist() == expected[0].tolist()


def test_a_model_whose_weights_are_external_files_is_not_rewritten(tmp_path: Path) -> None:
    import onnx

    path, _inputs, _outputs = _copy("test_Linear", tmp_path)  # opset 6: would be upgraded
    model = onnx.load(str(path))
    onnx.save(model, str(path), save_as_external_data=True, size_threshold=0, location="w.bin")
    (tmp_path / "w.bin").unlink()  # an upload is one file: its external weights stay behind
    signature = FORMAT.describe(path)
    with pytest.raises(ArtifactError, match="onnxruntime cannot load"):
        make_servable(path, signature, "linear.onnx")
