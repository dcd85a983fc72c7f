"""The converters and runtimes are the exact versions constraints.txt pins: what a manifest
records as provenance is what every install (make, the Docker image) gets."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONVERTERS_AND_RUNTIMES = (
    "scikit-learn",
    "skops",
    "skl2onnx",
    "onnx",
    "onnxruntime",
    "sklearn2pmml",
    "jpmml_evaluator",
    "jpype1",
    "torch",
    "onnxscript",
    "tensorflow_cpu",
    "keras",
    "xgboost_cpu",
    "lightgbm",
    "onnxmltools",
)


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            pins[_normal(match.group(1))] = match.group(2)
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("package", CONVERTERS_AND_RUNTIMES)
def test_each_converter_and_runtime_is_pinned_exactly_and_installed_at_its_pin(
    package: str,
) -> None:
    pins = _pins()
    assert _normal(package) in pins, f"{package} has no exact pin in constraints.txt"
    try:
        installed = version(package)
    except PackageNotFoundError:
        pytest.skip(f"{package} is not installed (its extra is not)")
    # A local version label (torch's "+cpu") is the same release as the pin.
    assert installed.split("+")[0] == pins[_normal(package)], (package, installed)


def test_the_pmml_extra_alone_keeps_scikit_learn_within_what_sklearn2pmml_accepts() -> None:
    """`pip install 'modelport[pmml]'` without constraints.txt must not pick a scikit-learn
    that sklearn2pmml then refuses (the newest release, 1.9.1, is refused by 0.133.1)."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    pytest.importorskip("sklearn2pmml")
    from converters._pmml_java import newest_sklearn_accepted

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = [Requirement(r) for r in project["optional-dependencies"]["pmml"]]
    sklearn = [r for r in extra if _normal(r.name) == "scikit-learn"]
    assert len(sklearn) == 1, "the pmml extra must bound scikit-learn"
    newest = newest_sklearn_accepted()
    assert newest is not None  # read from sklearn2pmml's own jar
    major, minor, patch = Version(newest).release
    assert sklearn[0].specifier.contains(newest)
    assert sklearn[0].specifier.contains(_pins()["scikit-learn"])
    for newer in (f"{major}.{minor}.{patch + 1}", f"{major}.{minor + 1}.0"):
        assert not sklearn[0].specifier.contains(newer), newer
