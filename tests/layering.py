"""The import graph of modelport's packages, and the layering it must respect.

Every import counts: at module level, inside functions (the lazy imports of heavy
frameworks' users) and under `if TYPE_CHECKING:`, since a type-only cycle still ties two
modules together. Pure functions of the source files, so the rules are tested on made-up
graphs as well as on the real one (tests/test_layering.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGES = ("model_repo", "converters", "gateway")

# Lowest first: a module may import its own layer and the layers below it, never above.
# `gateway -> converters -> model_repo`; inside the gateway, the flat modules every layer
# uses (errors, metrics, logs), then the request path, the control plane, HTTP, the app
# that wires them, and the command line on top. HTTP and gRPC are two front ends side by
# side: either may use the other's protocol-free helpers (tokens, routing hints).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("model_repo",),
    ("converters",),
    ("gateway.errors", "gateway.metrics", "gateway.logs"),
    ("gateway.serving",),
    ("gateway.control",),
    ("gateway.rest", "gateway.grpc"),
    ("gateway.config", "gateway.app", "gateway.server", "gateway.ray_serve"),
    ("gateway.cli", "gateway"),
)
EXACT = frozenset({"gateway"})  # names only that module, not the modules under it

Graph = Mapping[str, set[str]]


def module_files(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of `packages` under `root`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph(files: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules among `files` it imports (itself excluded)."""
    return {name: _imports(name, path, files.keys()) for name, path in files.items()}


def _imports(name: str, path: Path, known: Iterable[str]) -> set[str]:
    modules = set(known)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.module, node.level)
            found.add(base)
            # `from pkg import mod` imports the module pkg.mod, not only pkg
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in modules and m != name}


def _absolute(package: str, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - level + 1]
    return ".".join([*base, module] if module else base)


def layer_of(module: str) -> int | None:
    """The index in LAYERS of the longest prefix naming `module`; None if none does."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            names = module == prefix or (prefix not in EXACT and module.startswith(prefix + "."))
            if names and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def layering_violations(graph: Graph) -> list[str]:
    """Every import of a higher layer, and every module no layer names."""
    problems = []
    for module in sorted(graph):
        own = layer_of(module)
        if own is None:
            problems.append(f"{module} is in no layer: add it to tests/layering.py LAYERS")
            continue
        for target in sorted(graph[module]):
            theirs = layer_of(target)
            if theirs is not None and theirs > own:
                problems.append(
                    f"{module} (layer {_name(own)}) imports {target} (layer {_name(theirs)}),"
                    " a layer above it"
                )
    return problems


def _name(index: int) -> str:
    return "/".join(LAYERS[index])


def cycles(graph: Graph) -> list[list[str]]:
    """The import cycles: each strongly connected set of two or more modules, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm; the graphs are small
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)
