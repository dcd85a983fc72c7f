"""The CLI through a real subprocess: success paths and one test per failure kind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway import exit_codes

ROOT = Path(__file__).resolve().parents[2]
MODELPORT = [sys.executable, "-c", "from gateway.cli import main; main()"]


def run(
    *args: str | Path, env: dict[str, str] | None = None, prefix: list[str] | None = None
) -> Any:
    return subprocess.run(
        [*(prefix or []), *MODELPORT, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import skops.io
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    from tests.sklearn_cases import datasets

    folder = tmp_path_factory.mktemp("cli-models")
    x, y, _ = datasets()["iris"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iris = LogisticRegression(max_iter=1000).fit(x, y)
    skops.io.dump(iris, folder / "iris.skops")
    x.head(30).to_csv(folder / "iris_sample.csv", index=False)
    x.head(30).drop(columns="petal_width").to_csv(folder / "bad_sample.csv", index=False)
    line = np.linspace(0, 1, 40).reshape(-1, 1)
    spline = make_pipeline(SplineTransformer(), Ridge()).fit(line, line.ravel() ** 2)
    skops.io.dump(spline, folder / "spline.skops")
    rng = np.random.default_rng(0)
    base = 1e6 + rng.normal(0, 1, 100)
    wide = np.column_stack([base, base + rng.normal(0, 1, 100)])
    skops.io.dump(
        LinearRegression().fit(wide, 1000 * (wide[:, 0] - wide[:, 1])), folder / "cancel.skops"
    )
    np.save(folder / "cancel.npy", wide[:40])
    (folder / "corrupt.skops").write_bytes(b"PK\x03\x04 this is not a zip archive")
    return {p.stem: p for p in folder.iterdir()}


def test_convert_list_show_alias_verify_delete(tmp_path: Path, models: dict[str, Path]) -> None:
    repo = tmp_path / "repo"
    first = run("convert", models["iris"], "--name", "iris", "--to", "onnx", "--repo", repo)
    assert first.returncode == 0, first.stderr
    assert "published iris version 1 (onnx)" in first.stdout
    assert "parity passed" in first.stdout and "probabilities" in first.stdout
    second = run(
        "convert",
        models["iris"],
        "--name",
        "iris",
        "--to",
        "onnx",
        "--repo",
        repo,
        "--sample",
        models["iris_sample"],
        "--alias",
        "stable",
    )
    assert second.returncode == 0, second.stderr
    assert "version 2" in second.stdout and "file:iris_sample.csv" in second.stdout

    listed = run("models", "list", "--repo", repo, "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {
            "name": "iris",
            "versions": [1, 2],
            "formats": {"1": "onnx", "2": "onnx"},
            "aliases": {"stable": {"version": 2}},
        }
    ]
    shown = json.loads(run("models", "show", "iris", "--repo", repo).stdout)
    assert shown["version"] == 2 and shown["parity"]["passed"] is True
    assert run("models", "alias", "iris", "stable", "1", "--repo", repo).returncode == 0
    verified = run("models", "verify", "iris", "--version", "2", "--repo", repo)
    assert verified.returncode == 0 and "match their sha256" in verified.stdout
    deleted = run("models", "delete", "iris", "2", "--repo", repo)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(run("models", "list", "--repo", repo, "--json").stdout)[0]["versions"] == [1]


def _assert_fails(result: Any, code: int, *phrases: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    message = " ".join(result.stderr.split())
    assert message.startswith("error:"), message
    for phrase in phrases:
        assert phrase in message, message


def test_corrupt_model_file(tmp_path: Path, models: dict[str, Path]) -> None:
    result = run("convert", models["corrupt"], "--name", "x", "--to", "onnx", "--repo", tmp_path)
    _assert_fails(result, 3, "corrupt.skops is not a readable .skops file")


def test_unsupported_step(tmp_path: Path, models: dict[str, Path]) -> None:
    result = run("convert", models["spline"], "--name", "s", "--to", "onnx", "--repo", tmp_path)
    _assert_fails(result, 4, "Pipeline/splinetransformer", "has no onnx converter")


def test_unsupported_pair(tmp_path: Path, models: dict[str, Path]) -> None:
    result = run("convert", models["iris"], "--name", "s", "--to", "savedmodel", "--repo", tmp_path)
    _assert_fails(result, 4, "no converter from sklearn to savedmodel", "onnx, pmml")


def test_java_missing_for_pmml(tmp_path: Path, models: dict[str, Path]) -> None:
    java = shutil.which("java")
    assert java is not None
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    # A PATH holding only this Python: no java anywhere on it.
    env["PATH"] = str(Path(sys.executable).parent)
    result = run(
        "convert", models["iris"], "--name", "p", "--to", "pmml", "--repo", tmp_path, env=env
    )
    _assert_fails(result, 5, "Java")
    assert not (tmp_path / "p").exists()


def test_parity_failure(tmp_path: Path, models: dict[str, Path]) -> None:
    args = (
        "convert",
        models["cancel"],
        "--name",
        "c",
        "--to",
        "onnx",
        "--repo",
        tmp_path,
        "--sample",
        models["cancel"].with_suffix(".npy"),
    )
    _assert_fails(
        run(*args), 6, "parity check failed", "output 'prediction'", "Nothing was published"
    )
    forced = run(*args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "FAILED, published with --force" in forced.stdout


def test_sample_mismatch(tmp_path: Path, models: dict[str, Path]) -> None:
    result = run(
        "convert",
        models["iris"],
        "--name",
        "i",
        "--to",
        "onnx",
        "--repo",
        tmp_path,
        "--sample",
        models["bad_sample"],
    )
    _assert_fails(result, 7, "lacks column(s) petal_width")


def test_repository_not_writable(tmp_path: Path, models: dict[str, Path]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir(mode=0o555)
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    result = run(
        "convert",
        models["iris"],
        "--name",
        "i",
        "--to",
        "onnx",
        "--repo",
        repo,
        prefix=prefix if os.geteuid() == 0 else None,
    )
    repo.chmod(0o755)
    _assert_fails(result, 8, "is not writable", "--repo")


def test_not_found_conflict_integrity_and_usage(tmp_path: Path, models: dict[str, Path]) -> None:
    repo = tmp_path / "repo"
    assert (
        run("convert", models["iris"], "--name", "iris", "--to", "onnx", "--repo", repo).returncode
        == 0
    )
    _assert_fails(run("models", "show", "nope", "--repo", repo), 9, "model 'nope' not found")
    _assert_fails(
        run("models", "alias", "iris", "stable", "5", "--repo", repo), 10, "no such version"
    )
    artifact = repo / "iris" / "1" / "model.onnx"
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    _assert_fails(run("models", "verify", "iris", "--repo", repo), 11, "does not match its sha256")
    _assert_fails(
        run("convert", models["iris"], "--name", "i", "--to", "tflite", "--repo", repo),
        exit_codes.USAGE,
        "unknown artifact format 'tflite'",
    )
    missing_option = run("convert", models["iris"], "--to", "onnx")
    assert missing_option.returncode == exit_codes.USAGE
    assert "--name" in missing_option.stderr


def test_help_is_fast_and_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("convert", "models"):
        assert command in result.stdout
    heavy = "('torch', 'tensorflow', 'sklearn', 'onnxruntime', 'jpype')"
    code = f"import sys, gateway.cli; print(sorted(m for m in {heavy} if m in sys.modules))"
    check = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.stdout.strip() == "[]"
