"""PyTorch -> ONNX through the real exporter and onnxruntime, from files saved as a user would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converters.errors import (
    ConversionError,
    ModelLoadError,
    SampleMismatch,
    UnsupportedConversion,
)
from converters.loading import load_source
from converters.pipeline import convert_file
from model_repo import Repository
from model_repo.errors import DependencyMissing

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

FRESH_ROWS = 7  # differs from every sample's batch: the artifact must take any batch size


class MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(4, 16)
        self.out = torch.nn.Linear(16, 3)

    def forward(self, x):
        return torch.softmax(self.out(torch.relu(self.hidden(x))), dim=1)


class CNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Each model saved to a file, next to the live module to compare against."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("torch-models")
    mlp, cnn = MLP().eval(), CNN().eval()
    batch = torch.export.Dim("batch")
    dynamic = torch.export.export(mlp, (torch.randn(8, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(dynamic, folder / "mlp.pt2")
    # Saved with a fixed batch of 2: the converter must free the batch dim itself.
    torch.export.save(torch.export.export(cnn, (torch.randn(2, 1, 8, 8),)), folder / "cnn.pt2")
    torch.jit.script(mlp).save(str(folder / "mlp_script.pt"))
    (folder / "corrupt.pt2").write_bytes(b"PK\x03\x04 not really a zip archive")
    torch.save(mlp.state_dict(), folder / "weights.pt")
    return {
        "mlp": (folder / "mlp.pt2", mlp),
        "cnn": (folder / "cnn.pt2", cnn),
        "script": (folder / "mlp_script.pt", mlp),
        "corrupt": (folder / "corrupt.pt2", None),
        "state_dict": (folder / "weights.pt", None),
    }


def _served_matches_torch(repo: Repository, name: str, version: int, module: Any, x: Any) -> None:
    _, predictor = repo.open(name, version)
    try:
        got = predictor.predict({"input": x})
    finally:
        predictor.close()
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    assert got["output"].shape == expected.shape
    np.testing.assert_allclose(got["output"], expected, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    ("case", "shape"), [("mlp", (-1, 4)), ("cnn", (-1, 1, 8, 8))], ids=["mlp", "cnn"]
)
def test_exported_program_converts_with_dynamic_batch(
    tmp_path: Path, models: dict[str, tuple[Path, Any]], case: str, shape: tuple[int, ...]
) -> None:
    path, module = models[case]
    repo = Repository(tmp_path)
    manifest = convert_file(repo, path, case, "onnx")

    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.provenance.converter == "torch_onnx"
    assert manifest.provenance.libraries["torch"] == torch.__version__
    assert manifest.signature.inputs[0].to_dict() == {
        "name": "input",
        "datatype": "FP32",
        "shape": list(shape),
    }
    assert manifest.signature.output_names == ["output"]
    assert manifest.signature.outputs[0].shape[0] == -1
    assert manifest.notes["re_exported"] is (case == "cnn")
    fresh = np.random.default_rng(1).standard_normal((FRESH_ROWS, *shape[1:])).astype(np.float32)
    _served_matches_torch(repo, case, manifest.version, module, fresh)


def test_torchscript_takes_its_input_shape_from_the_sample(
    tmp_path: Path, models: dict[str, tuple[Path, Any]]
) -> None:
    path, module = models["script"]
    repo = Repository(tmp_path)
    with pytest.raises(SampleMismatch, match=r"TorchScript.*records no input shapes.*\.npy"):
        convert_file(repo, path, "script", "onnx")
    sample = tmp_path / "sample.npy"
    np.save(sample, np.random.default_rng(2).standard_normal((16, 4)))  # float64, as numpy makes

    manifest = convert_file(repo, path, "script", "onnx", sample_path=sample)

    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.sample_source == "file:sample.npy"
    assert manifest.notes["exporter"] == "torchscript"
    assert manifest.signature.inputs[0].to_dict() == {
        "name": "input",
        "datatype": "FP32",
        "shape": [-1, 4],
    }
    fresh = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    _served_matches_torch(repo, "script", manifest.version, module, fresh)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("corrupt", r"corrupt\.pt2 is not a readable torch\.export program"),
        ("state_dict", r"weights\.pt is not a TorchScript module.*torch\.save"),
    ],
)
def test_a_file_that_is_not_a_model_is_refused(
    tmp_path: Path, models: dict[str, tuple[Path, Any]], case: str, message: str
) -> None:
    repo = Repository(tmp_path)
    with pytest.raises(ModelLoadError, match=message):
        convert_file(repo, models[case][0], case, "onnx")
    assert repo.models() == []


def test_torch_to_pmml_names_what_torch_converts_to(
    tmp_path: Path, models: dict[str, tuple[Path, Any]]
) -> None:
    repo = Repository(tmp_path)
    with pytest.raises(UnsupportedConversion, match=r"no converter from torch to pmml.*: onnx"):
        convert_file(repo, models["mlp"][0], "mlp", "pmml")
    assert repo.models() == []


def test_a_sample_of_the_wrong_shape_is_refused(
    tmp_path: Path, models: dict[str, tuple[Path, Any]]
) -> None:
    repo = Repository(tmp_path)
    sample = tmp_path / "wide.npy"
    np.save(sample, np.zeros((10, 5), dtype=np.float32))
    with pytest.raises(SampleMismatch, match=r"shape \[10, 5\].*expects \[-1, 4\]"):
        convert_file(repo, models["mlp"][0], "mlp", "onnx", sample_path=sample)
    assert repo.models() == []


def test_missing_torch_names_the_extra(
    models: dict[str, tuple[Path, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # what `import` sees when absent
    with pytest.raises(DependencyMissing, match=r"pip install 'modelport\[torch\]'"):
        load_source(models["mlp"][0])


class KthValue(torch.nn.Module):
    """An operator neither ONNX exporter can translate (aten::kthvalue)."""

    def forward(self, x):
        return torch.kthvalue(x, 2, dim=1)[0]


@pytest.mark.parametrize(
    ("suffix", "exporter", "reason"),
    [
        (".pt2", "dynamo", r"DispatchError: No ONNX function found for .*aten\.kthvalue"),
        (".pt", "TorchScript-based", r"UnsupportedOperatorError: .*aten::kthvalue.* not supported"),
    ],
)
def test_an_export_failure_names_the_model_the_exporter_and_the_reason(
    tmp_path: Path, suffix: str, exporter: str, reason: str
) -> None:
    path = tmp_path / f"kth{suffix}"
    example = torch.randn(4, 3)
    if suffix == ".pt2":
        dims = ({0: torch.export.Dim("batch")},)
        torch.export.save(torch.export.export(KthValue(), (example,), dynamic_shapes=dims), path)
    else:
        torch.jit.script(KthValue()).save(str(path))
    sample = tmp_path / "sample.npy"
    np.save(sample, example.numpy())
    repo = Repository(tmp_path / "repo")
    with pytest.raises(
        ConversionError,
        match=rf"the {exporter} ONNX exporter cannot convert "
        rf"kth{suffix}: {reason}",
    ):
        convert_file(repo, path, "kth", "onnx", sample_path=sample)
    assert repo.models() == []


class FixedBatch(torch.nn.Module):
    """Its code pins the batch: a bias with one row per example of a batch of 2."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.randn(2, 4))

    def forward(self, x):
        return x + self.bias


def test_a_program_whose_code_fixes_the_batch_is_refused_with_the_remedy(tmp_path: Path) -> None:
    path = tmp_path / "fixed.pt2"
    torch.export.save(torch.export.export(FixedBatch().eval(), (torch.randn(2, 4),)), path)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(UnsupportedConversion) as info:
        convert_file(repo, path, "fixed", "onnx")
    message = str(info.value)
    assert message.startswith(
        "fixed.pt2 was exported with a fixed batch size and its code does not allow another one"
    )
    assert "Make the batch free in the model" in message and "Dim('batch')" in message
    assert repo.models() == []
