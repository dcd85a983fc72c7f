"""Merge the figures of several rounds of the same parts: the best of each is kept.

On a shared machine, other work only ever slows a measurement down, so running every part
again later (`--rounds`) and keeping each figure's best gives each server its quietest
window; every value measured is kept in `repeats`, errors add up, and a figure flagged in
any round stays flagged.
"""

from __future__ import annotations

from typing import Any

from bench.load import Figure, Figures


def lower_is_better(figure: Figure) -> bool:
    unit = str(figure.get("unit", ""))
    return unit == "s" or unit.startswith("ms")


def _values(figure: Figure) -> list[Any]:
    return list(figure.get("repeats") or [figure.get("value")])


def _best(old: Figure, new: Figure) -> Figure:
    a, b = old.get("value"), new.get("value")
    if isinstance(a, list) and isinstance(b, list):  # runtimes found: any round counts
        return {**old, "value": sorted(set(a) | set(b))}
    if not isinstance(b, int | float):
        return old
    if not isinstance(a, int | float):
        return new
    new_wins = b < a if lower_is_better(old) else b > a
    return new if new_wins else old


def merge(into: Figures, new: Figures) -> None:
    """Fold one round's `new` figures into `into`, in place."""
    for key, figure in new.items():
        old = into.get(key)
        if old is None:
            into[key] = figure
            continue
        merged = dict(_best(old, figure))
        if "repeats" in old or "repeats" in figure:
            merged["repeats"] = _values(old) + _values(figure)
        if "errors" in old or "errors" in figure:
            merged["errors"] = old.get("errors", 0) + figure.get("errors", 0)
        merged["flagged"] = bool(old.get("flagged") or figure.get("flagged"))
        into[key] = merged
