"""How the CLI shows results: the parity report of a conversion, the model list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from model_repo.manifest import Manifest


def print_conversion(console: Console, manifest: Manifest, where: str, alias: str | None) -> None:
    parity = manifest.parity
    verdict = "[green]passed[/]"
    if parity is not None and parity.forced:
        verdict = "[bold red]FAILED, published with --force[/]"
    console.print(
        f"published [bold]{manifest.name}[/] version [bold]{manifest.version}[/] "
        f"({manifest.format}) at {where}" + (f", alias {alias!r}" if alias else "")
    )
    if parity is None:
        return
    tol = parity.tolerance
    table = Table(
        title=f"parity {verdict}: {parity.sample_size} rows, {parity.sample_source}; "
        f"rtol={tol.rtol:g} atol={tol.atol:g} budget={tol.mismatch_budget:.1%}",
        title_justify="left",
    )
    for column in ("output", "max abs error", "max rel error", "mismatches"):
        table.add_column(column, justify="left" if column == "output" else "right")
    for name, result in parity.outputs.items():
        table.add_row(
            name,
            f"{result.max_abs_error:.3g}",
            f"{result.max_rel_error:.3g}",
            f"{result.mismatches}/{result.elements}",
        )
    console.print(table)


def print_models(console: Console, rows: list[dict[str, Any]], root: Path | str) -> None:
    if not rows:
        console.print(f"no models in {root}")
        return
    table = Table(title=f"models in {root}", title_justify="left")
    for column in ("model", "versions", "formats", "aliases"):
        table.add_column(column)
    for row in rows:
        formats = sorted(set(row["formats"].values()))
        aliases = ", ".join(f"{a}->{_target(t)}" for a, t in sorted(row["aliases"].items()))
        table.add_row(
            row["name"], ", ".join(map(str, row["versions"])), ", ".join(formats), aliases or "-"
        )
    console.print(table)


def _target(target: dict[str, Any]) -> str:
    if "version" in target:
        return str(target["version"])
    return "/".join(f"{v}:{w}%" for v, w in target["weights"].items())
