"""The packages import one way only (docs/architecture.md): checked on the real sources, and
the checks themselves checked on graphs made up to break them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layering import cycles, import_graph, layer_of, layering_violations, module_files

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(module_files(ROOT))


def test_no_module_imports_a_layer_above_its_own(graph) -> None:
    assert layering_violations(graph) == []


def test_no_import_cycles_not_even_type_only_ones(graph) -> None:
    assert cycles(graph) == []


def test_the_scan_sees_every_kind_of_import(graph) -> None:
    # A scan that found nothing would pass the two tests above: these edges must be there.
    assert "gateway.serving.dataplane" in graph["gateway.rest.v2"]  # module level
    assert "converters.pipeline" in graph["gateway.control.uploads"]  # inside a function
    assert "gateway.server" in graph["gateway.cli.commands"]  # inside a function
    assert "gateway.cli.commands" in graph["gateway.cli"]  # a package's __init__


def test_an_upward_import_is_reported_with_both_layers() -> None:
    graph = {
        "gateway.serving.dataplane": {"gateway.control.manager", "gateway.errors"},
        "gateway.control.manager": {"gateway.serving.routing_table"},
        "gateway.serving.routing_table": set(),
        "gateway.errors": set(),
        "model_repo.repository": {"converters.pipeline"},
        "converters.pipeline": {"model_repo.repository"},
    }
    problems = layering_violations(graph)
    assert len(problems) == 2
    assert (
        "gateway.serving.dataplane (layer gateway.serving) imports gateway.control.manager"
        in (problems[0])
    )
    assert "model_repo.repository (layer model_repo) imports converters.pipeline" in problems[1]


def test_a_module_outside_every_layer_is_reported() -> None:
    assert layer_of("gateway.somewhere") is None
    problems = layering_violations({"gateway.somewhere": set()})
    assert problems == ["gateway.somewhere is in no layer: add it to tests/layering.py LAYERS"]


def test_the_longest_prefix_decides_the_layer() -> None:
    assert layer_of("gateway") == layer_of("gateway.cli.commands")
    assert layer_of("gateway.errors") < layer_of("gateway.serving.tensors")
    assert layer_of("gateway.serving.tensors") < layer_of("gateway.control.manager")
    assert layer_of("gateway.control.manager") < layer_of("gateway.rest.v2")
    assert layer_of("gateway.rest.v2") < layer_of("gateway.app") < layer_of("gateway.cli")


def test_a_cycle_is_found_whatever_kind_of_import_closes_it(tmp_path: Path) -> None:
    package = tmp_path / "gateway"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from gateway import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gateway.c import C\n"
    )
    (package / "c.py").write_text("def f():\n    from .a import thing\n")
    (package / "d.py").write_text("import gateway.a\n")
    found = cycles(import_graph(module_files(tmp_path, ["gateway"])))
    assert found == [["gateway.a", "gateway.b", "gateway.c"]]
