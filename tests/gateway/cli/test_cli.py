"""The CLI through a real subprocess: success paths, and every failure kind `convert` and
`models` can end in, each with its own exit code, a readable message, and the repository
left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.cli import exit_codes
from model_repo.repository import STAGING_DIR, TRASH_DIR

ROOT = Path(__file__).resolve().parents[3]
MODELPORT = [sys.executable, "-c", "from gateway.cli import main; main()"]
# The same entry point with scikit-learn claiming a version sklearn2pmml does not accept.
NEWER_SKLEARN = [
    sys.executable,
    "-c",
    "import sklearn; sklearn.__version__ = '1.9.1'; from gateway.cli import main; main()",
]
# The pmml extra not installed: its package cannot be imported.
NO_PMML_EXTRA = [
    sys.executable,
    "-c",
    "import sys; sys.modules['sklearn2pmml'] = None; from gateway.cli import main; main()",
]
# root ignores permission bits; a child run through this drops the capabilities that let it.
NO_ROOT_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def run(
    *args: str | Path,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
    command: list[str] = MODELPORT,
) -> Any:
    return subprocess.run(
        [*(prefix or []), *command, *map(str, args)],
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
    holes = x.head(30).copy()
    holes.iloc[3, 1] = np.nan  # the ONNX graph takes NaN; scikit-learn refuses it
    holes.to_csv(folder / "holes.csv", index=False)
    line = np.linspace(0, 1, 40).reshape(-1, 1)
    spline = make_pipeline(SplineTransformer(), Ridge()).fit(line, line.ravel() ** 2)
    skops.io.dump(spline, folder / "spline.skops")
    rng = np.random.default_rng(0)
    base = 1e6 + rng.normal(0, 1, 100)
    wide = np.column_stack([base, base + rng.normal(0, 1, 100)])
    skops.io.dump(
        LinearRegression().fit(wide, 1000 * (wide[:, 0] - wide[:, 1])), folder / "cancel.skops"
    )
    np.save(folder / "cancel_sample.npy", wide[:40])
    np.save(folder / "too_wide.npy", np.zeros((5, 3)))
    (folder / "corrupt.skops").write_bytes(b"PK\x03\x04 this is not a zip archive")
    skops.io.dump({"weights": [1, 2, 3]}, folder / "settings.skops")
    (folder / "notes.docx").write_text("not a model at all")
    (folder / "readme.txt").write_text("a .txt file that is no LightGBM model")
    java_home = folder / "old-java"
    (java_home / "bin").mkdir(parents=True)
    (java_home / "bin" / "java").write_text("#!/bin/sh\necho 'java version \"1.8.0_292\"' >&2\n")
    (java_home / "bin" / "java").chmod(0o755)
    files = {p.stem if p.is_file() else p.name: p for p in folder.iterdir()}
    assert len(files) == len(list(folder.iterdir()))  # no two files share a key
    return files


@pytest.fixture(scope="module")
def torch_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("cli-torch") / "mlp.pt2"
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    batch = torch.export.Dim("batch")
    program = torch.export.export(mlp.eval(), (torch.randn(4, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(program, path)
    return path


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, models: dict[str, Path]) -> Path:
    """A repository holding iris version 1 (ONNX) under alias `stable`: what a failure must
    leave exactly as it found it."""
    from converters.pipeline import convert_file
    from model_repo.repository import Repository

    root = tmp_path_factory.mktemp("cli-seeded") / "repo"
    convert_file(Repository(root), models["iris"], "iris", "onnx", alias="stable")
    return root


def snapshot(root: Path) -> dict[str, str]:
    """Every file of the repository with its sha256 (directories as such), leaving out the
    staging and trash areas, which must hold nothing anyway (checked separately)."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in (STAGING_DIR, TRASH_DIR):
            continue
        found[str(relative)] = (
            "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        )
    return found


def leftovers(root: Path) -> list[str]:
    """Whatever a command left in the staging and trash areas."""
    return [
        str(p.relative_to(root))
        for area in (STAGING_DIR, TRASH_DIR)
        if (root / area).is_dir()
        for p in (root / area).iterdir()
    ]


def _assert_fails(result: Any, code: int, *phrases: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    message = " ".join(result.stderr.split())
    assert message.startswith("error:"), message
    for phrase in phrases:
        assert phrase in message, message
    assert "Traceback" not in result.stderr, result.stderr


# ---- success ------------------------------------------------------------------------------


def test_convert_list_show_alias_verify_delete(tmp_path: Path, models: dict[str, Path]) -> None:
    repo = tmp_path / "repo"
    first = run("convert", models["iris"], "--name", "iris", "--to", "onnx", "--repo", repo)
    assert first.returncode == 0, first.stderr
    assert "published iris version 1 (onnx)" in first.stdout
    assert "parity passed" in first.stdout
    for output in ("label", "probabilities"):  # one row per output in the parity table
        assert output in first.stdout
    assert (repo / "iris" / "1" / "model.onnx").is_file()
    assert (repo / "iris" / "1" / "manifest.json").is_file()
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
    table = run("models", "list", "--repo", repo)
    assert table.returncode == 0 and "stable->2" in table.stdout
    shown = json.loads(run("models", "show", "iris", "--repo", repo).stdout)
    assert shown["version"] == 2 and shown["parity"]["passed"] is True
    assert shown["parity"]["sample_source"] == "file:iris_sample.csv"
    aliased = run("models", "alias", "iris", "stable", "1", "--repo", repo)
    assert aliased.returncode == 0 and "iris:stable -> version 1" in aliased.stdout
    assert json.loads(run("models", "show", "iris", "--repo", repo).stdout)["version"] == 1
    verified = run("models", "verify", "iris", "--version", "2", "--repo", repo)
    assert verified.returncode == 0 and "match their sha256" in verified.stdout
    deleted = run("models", "delete", "iris", "2", "--repo", repo)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(run("models", "list", "--repo", repo, "--json").stdout)[0]["versions"] == [1]
    assert not (repo / "iris" / "2").exists()


def test_forced_publish_reports_the_failed_parity(tmp_path: Path, models: dict[str, Path]) -> None:
    forced = run(
        "convert",
        models["cancel"],
        "--name",
        "c",
        "--to",
        "onnx",
        "--repo",
        tmp_path,
        "--sample",
        models["cancel_sample"],
        "--force",
    )
    assert forced.returncode == 0, forced.stderr
    assert "FAILED, published with --force" in forced.stdout
    manifest = json.loads((tmp_path / "c" / "1" / "manifest.json").read_text())
    assert manifest["parity"]["passed"] is False and manifest["parity"]["forced"] is True


def test_progress_is_shown_on_a_terminal(tmp_path: Path, models: dict[str, Path]) -> None:
    # rich draws its spinner only on an interactive terminal; these make it believe it is one.
    env = {**os.environ, "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "NO_COLOR": "1"}
    result = run(
        "convert", models["iris"], "--name", "iris", "--to", "onnx", "--repo", tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "loading iris.skops" in result.stderr
    assert "publishing" in result.stderr  # the last step, drawn as the spinner stops


# ---- every failure kind ---------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    repo: Path  # a copy of the seeded repository
    models: dict[str, Path]
    tmp: Path
    request: pytest.FixtureRequest

    def convert(self, model: str, *extra: str | Path, to: str = "onnx", **kw: Any) -> Any:
        return run(
            "convert", self.models[model], "--name", "x", "--to", to, "--repo", self.repo,
            *extra, **kw,
        )  # fmt: skip


@dataclass(frozen=True)
class Failure:
    code: int
    invoke: Callable[[Context], Any]
    phrases: tuple[str, ...]
    prepare: Callable[[Context], None] | None = None  # breaks the repository first


def _no_java(ctx: Context) -> Any:
    assert shutil.which("java") is not None  # else this would not test what it says
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # only this Python: no java on it
    return ctx.convert("iris", to="pmml", env=env)


def _old_java(ctx: Context) -> Any:
    env = {**os.environ, "JAVA_HOME": str(ctx.models["old-java"])}
    return ctx.convert("iris", to="pmml", env=env)


def _torch_to_pmml(ctx: Context) -> Any:
    path = ctx.request.getfixturevalue("torch_model")
    return run("convert", path, "--name", "x", "--to", "pmml", "--repo", ctx.repo)


def _read_only(ctx: Context) -> Any:
    directories = [ctx.repo, *(p for p in ctx.repo.rglob("*") if p.is_dir())]
    for directory in directories:
        directory.chmod(0o555)
    try:
        return ctx.convert("iris", prefix=NO_ROOT_OVERRIDE if os.geteuid() == 0 else None)
    finally:
        for directory in directories:
            directory.chmod(0o755)


def _root_is_a_file(ctx: Context) -> Any:
    root = ctx.tmp / "a-file"
    root.write_text("not a directory")
    return run("convert", ctx.models["iris"], "--name", "x", "--to", "onnx", "--repo", root)


def _tamper(ctx: Context) -> None:
    artifact = ctx.repo / "iris" / "1" / "model.onnx"
    artifact.write_bytes(artifact.read_bytes() + b"\0")


def _corrupt_manifest(ctx: Context) -> None:
    (ctx.repo / "iris" / "1" / "manifest.json").write_text("{")


def _corrupt_aliases(ctx: Context) -> None:
    (ctx.repo / "iris" / "aliases.json").write_text("{")


def _models(*args: str) -> Callable[[Context], Any]:
    return lambda ctx: run("models", *args, "--repo", ctx.repo)


FAILURES: dict[str, Failure] = {
    # 3: the model file is not a model, or is corrupt
    "corrupt_model_file": Failure(
        3, lambda c: c.convert("corrupt"), ("corrupt.skops is not a readable .skops file",)
    ),
    "file_holding_no_model": Failure(
        3,
        lambda c: c.convert("settings"),
        ("settings.skops holds a builtins.dict, not a scikit-learn estimator",),
    ),
    "unknown_model_file_type": Failure(
        3,
        lambda c: c.convert("notes"),
        ("notes.docx: unknown model file type '.docx'", "modelport reads", ".skops", ".txt"),
    ),
    "text_file_that_is_no_booster": Failure(
        3,
        lambda c: c.convert("readme"),
        ("readme.txt: unknown model file type", "read as a native booster", "LightGBM's"),
    ),
    # 4: no converter for a step, or for the framework/format pair
    "step_without_converter": Failure(
        4,
        lambda c: c.convert("spline"),
        (
            "step 'Pipeline/splinetransformer'",
            "SplineTransformer) has no onnx converter",
            "formats that support it: pmml",
        ),
    ),
    "pair_without_converter": Failure(
        4,
        lambda c: c.convert("iris", to="savedmodel"),
        (
            "no converter from sklearn to savedmodel",
            "sklearn models can be converted to: onnx, pmml",
        ),
    ),
    "torch_to_pmml": Failure(
        4,
        _torch_to_pmml,
        ("no converter from torch to pmml", "torch models can be converted to: onnx"),
    ),
    # 5: Java missing or too old, a library version refused
    "java_missing": Failure(5, _no_java, ("Java was not found", "JAVA_HOME", "Java 11+")),
    "java_too_old": Failure(
        5, _old_java, ("Java 1.8.0_292", "is too old", "needs Java 11 or newer")
    ),
    # The hint is printed as written: rich must not read `[pmml]` as markup.
    "pmml_extra_missing": Failure(
        5,
        lambda c: c.convert("iris", to="pmml", command=NO_PMML_EXTRA),
        ("sklearn2pmml is not installed", "pip install 'modelport[pmml]'"),
    ),
    "sklearn_version_refused": Failure(
        5,
        lambda c: c.convert("iris", to="pmml", command=NEWER_SKLEARN),
        ("library version refused", "scikit-learn up to 1.9.0", "scikit-learn 1.9.1 is installed"),
    ),
    # 6: parity failure, showing the worst elements
    "parity_failure": Failure(
        6,
        lambda c: c.convert("cancel", "--sample", c.models["cancel_sample"]),
        (
            "parity check failed",
            "output 'prediction'",
            "elements differ",
            "]: source ",
            ", artifact ",
            "Nothing was published",
            "--force",
        ),
    ),
    # 7: a sample whose columns or shape do not fit
    "sample_columns": Failure(
        7,
        lambda c: c.convert("iris", "--sample", c.models["bad_sample"]),
        ("lacks column(s) petal_width", "the model takes sepal_length"),
    ),
    "sample_shape": Failure(
        7,
        lambda c: c.convert("cancel", "--sample", c.models["too_wide"]),
        ("gives shape [5, 3], the model expects [-1, 2] for input 'input'",),
    ),
    # 8: the repository cannot be written
    "repository_not_writable": Failure(8, _read_only, ("is not writable", "--repo")),
    # 9: nothing by that name
    "model_not_found": Failure(9, _models("show", "nope"), ("model 'nope' not found",)),
    "version_not_found": Failure(9, _models("delete", "iris", "7"), ("no version 7",)),
    # 10: contradicts what is stored
    "alias_to_missing_version": Failure(
        10, _models("alias", "iris", "stable", "5"), ("no such version",)
    ),
    "delete_aliased_version": Failure(
        10, _models("delete", "iris", "1"), ("iris version 1 is the target of alias(es) stable",)
    ),
    # 11: stored files do not match their manifest
    "tampered_artifact": Failure(
        11, _models("verify", "iris"), ("model.onnx does not match its sha256",), _tamper
    ),
    # 12: a stored artifact or manifest that cannot be read
    "corrupt_manifest": Failure(
        12,
        _models("list"),
        ("iris/1/manifest.json", "not valid JSON"),
        _corrupt_manifest,
    ),
    # 13: the repository itself cannot be used
    "corrupt_alias_file": Failure(
        13, _models("list"), ("iris/aliases.json is corrupt",), _corrupt_aliases
    ),
    "root_is_a_file": Failure(13, _root_is_a_file, ("a-file exists and is not a directory",)),
    "root_missing": Failure(
        13,
        lambda c: run("models", "list", "--repo", c.tmp / "nowhere"),
        ("repository", "nowhere does not exist", "--repo"),
    ),
    "root_missing_from_the_environment": Failure(
        13,
        lambda c: run(
            "releases", "list", env={**os.environ, "MODELPORT_REPO": str(c.tmp / "gone")}
        ),
        ("gone does not exist", "MODELPORT_REPO"),
    ),
    # 14: the conversion failed for another reason (here: the source model on the sample)
    "source_fails_on_sample": Failure(
        14,
        lambda c: c.convert("iris", "--sample", c.models["holes"]),
        (
            "the source sklearn model iris.skops fails on the parity sample (file:holes.csv)",
            "Input X contains NaN",
            "Nothing was published",
        ),
    ),
    # 2: a malformed argument
    "unknown_format": Failure(
        exit_codes.USAGE,
        lambda c: c.convert("iris", to="tflite"),
        ("unknown artifact format 'tflite'",),
    ),
    "bad_alias": Failure(
        exit_codes.USAGE,
        lambda c: c.convert("iris", "--alias", "has space"),
        ("alias 'has space' is not valid",),
    ),
    "bad_model_name": Failure(
        exit_codes.USAGE,
        lambda c: run(
            "convert", c.models["iris"], "--name", "../up", "--to", "onnx", "--repo", c.repo
        ),
        ("model name '../up' is not valid",),
    ),
}


@pytest.mark.parametrize("kind", FAILURES)
def test_each_failure_kind_has_its_code_and_message_and_changes_nothing(
    kind: str,
    tmp_path: Path,
    models: dict[str, Path],
    seeded: Path,
    request: pytest.FixtureRequest,
) -> None:
    failure = FAILURES[kind]
    repo = tmp_path / "repo"
    shutil.copytree(seeded, repo)
    ctx = Context(repo, models, tmp_path, request)
    if failure.prepare is not None:
        failure.prepare(ctx)
    before = snapshot(repo)
    _assert_fails(failure.invoke(ctx), failure.code, *failure.phrases)
    assert snapshot(repo) == before
    assert leftovers(repo) == []


def test_every_exit_code_of_convert_and_models_is_exercised() -> None:
    client_only = {exit_codes.REMOTE_ERROR, exit_codes.UNREACHABLE}  # push, predict
    serve_only = {exit_codes.PORT_UNAVAILABLE}  # tests/integration/test_serve_start.py
    codes = {code for _cls, code in exit_codes.EXIT_CODES} - client_only - serve_only
    assert codes <= {f.code for f in FAILURES.values()}


def test_a_missing_option_is_a_usage_error_naming_it(models: dict[str, Path]) -> None:
    missing_option = run("convert", models["iris"], "--to", "onnx")
    assert missing_option.returncode == exit_codes.USAGE
    assert "--name" in missing_option.stderr


def test_the_repository_option_shows_its_default_and_its_variable() -> None:
    for command in (("models", "list"), ("serve",), ("releases", "list"), ("convert",)):
        result = run(*command, "--help", env={**os.environ, "COLUMNS": "200"})
        assert result.returncode == 0, result.stderr
        line = next(x for x in result.stdout.splitlines() if "--repo" in x)
        assert "MODELPORT_REPO" in line and "./models" in line, (command, line)


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
