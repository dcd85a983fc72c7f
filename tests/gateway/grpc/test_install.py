"""tensorflow-serving-api declares a dependency on the full `tensorflow`, which must never
be installed beside tensorflow-cpu: it is installed with --no-deps from the pins, by the
Makefile and the Dockerfile alike, and the venv holds exactly one TensorFlow."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def installed() -> dict[str, str]:
    names = {}
    for dist in metadata.distributions():
        names[re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()] = dist.version
    return names


def test_the_venv_holds_exactly_one_tensorflow() -> None:
    present = installed()
    if "tensorflow-cpu" not in present:
        pytest.skip("the tensorflow extra is not installed")
    assert "tensorflow" not in present, "the full tensorflow is installed beside tensorflow-cpu"
    tensorflows = sorted(n for n in present if re.fullmatch(r"tensorflow(-[a-z]+)?", n))
    assert tensorflows == ["tensorflow-cpu"], tensorflows


def test_tensorflow_serving_api_is_pinned_to_tensorflows_version() -> None:
    pinned = pins()
    assert pinned["tensorflow-serving-api"] == pinned["tensorflow-cpu"]
    present = installed()
    if "tensorflow-serving-api" in present:
        assert present["tensorflow-serving-api"] == pinned["tensorflow-serving-api"]


@pytest.mark.parametrize("recipe", ["Makefile", "Dockerfile"])
def test_it_is_installed_without_its_dependencies_from_the_pins(recipe: str) -> None:
    text = (ROOT / recipe).read_text()
    steps = [line for line in text.splitlines() if "tensorflow-serving-api" in line]
    assert any("--no-deps" in s and "-c constraints.txt" in s for s in steps), steps
