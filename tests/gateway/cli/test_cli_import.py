"""`modelport models import` through a real subprocess: numbered dirs keep their numbers, a
taken number is exit code 10 and a missing path 12, and nothing is published on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from model_repo import Repository
from tests.artifacts import write_tiny_onnx

ROOT = Path(__file__).resolve().parents[3]
MODELPORT = [sys.executable, "-c", "from gateway.cli import main; main()"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MODELPORT, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_import_keeps_numbers_and_refuses_taken_ones(tmp_path: Path) -> None:
    model = tmp_path / "adder"
    for version in ("00000002", "5"):
        (model / version).mkdir(parents=True)
        write_tiny_onnx(model / version / "model.onnx")
    repo = tmp_path / "repo"
    done = run("models", "import", model, "--repo", repo)
    assert done.returncode == 0, done.stderr
    assert "published adder version 2 (onnx)" in done.stdout
    assert "published adder version 5 (onnx)" in done.stdout
    assert Repository(repo).versions("adder") == [2, 5]

    write_tiny_onnx(tmp_path / "next.onnx")
    taken = run("models", "import", tmp_path / "next.onnx", "--name", "adder", "--version", "4",
                "--repo", repo)  # fmt: skip
    assert taken.returncode == 10, taken.stderr  # conflict with stored state
    assert "versions are never reused" in taken.stderr
    given = run("models", "import", tmp_path / "next.onnx", "--name", "adder", "--version", "9",
                "--repo", repo)  # fmt: skip
    assert given.returncode == 0 and "adder version 9" in given.stdout, given.stderr
    assert Repository(repo).versions("adder") == [2, 5, 9]


def test_a_missing_path_is_named_and_publishes_nothing(tmp_path: Path) -> None:
    done = run("models", "import", tmp_path / "absent", "--repo", tmp_path / "repo")
    assert done.returncode == 12, done.stderr
    assert "absent does not exist" in done.stderr
    assert Repository(tmp_path / "repo").models() == []
