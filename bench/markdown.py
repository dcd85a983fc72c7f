"""Render a results JSON as the Markdown tables docs/benchmarks.md records:
`python -m bench.markdown [bench/results/latest.json]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.report import _fmt
from bench.run import DEFAULT_OUT


def figure_table(figures: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| figure | value | unit | errors | how |", "|---|---:|---|---:|---|"]
    for key, fig in figures.items():
        note = fig.get("error") or fig.get("note") or fig.get("how", "")
        first = note.splitlines()[0] if note else ""
        lines.append(
            f"| {key} | {_fmt(fig.get('value'))} | {fig.get('unit', '')} | "
            f"{fig.get('errors', '')} | {first} |"
        )
    return lines


def target_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| id | what | measured | target | status | detail |", "|---|---|---:|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['id']} | {row['what']} | {_fmt(row['measured'])} | {row['target']} | "
            f"{row['status']} | {row['detail']} |"
        )
    return lines


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_OUT
    results = json.loads(path.read_text())
    print("\n".join([*figure_table(results["figures"]), "", *target_table(results["targets"])]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
