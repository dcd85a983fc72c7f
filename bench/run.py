"""Run the benchmark: `python -m bench.run [--duration 10] [--only floor,mlserver]`.

Parts, in order (each can run alone with --only): `inprocess` (raw runtimes in this
process), `floor` (bench/raw_asgi.py under uvicorn), `mlserver` (its own venv), `gateway`
(`modelport serve`, T1-T6). Models are trained and converted into a temporary repository
first. Prints one table of figures and one of targets, and writes both as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import baselines, gateway_runs, inprocess
from bench.context import Context, make_bodies
from bench.load import Figures
from bench.machine import describe
from bench.models import prepare
from bench.report import as_json, print_report, targets
from bench.rounds import merge
from bench.wrk import WrkMissing, wrk_path

DEFAULT_OUT = Path(__file__).with_name("results") / "latest.json"


def _inprocess(ctx: Context) -> Figures:
    return inprocess.all_figures(ctx.prepared, ctx.inprocess_seconds)


PARTS: dict[str, Callable[[Context], Figures]] = {
    "inprocess": _inprocess,
    "floor": baselines.floor,
    "mlserver": baselines.mlserver,
    "gateway": gateway_runs.gateway,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=1, help="wrk runs per scenario (best kept)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run all the parts this many times (best kept)"
    )
    parser.add_argument(
        "--inprocess-seconds", type=float, default=None, help="per in-process loop (5)"
    )
    parser.add_argument("--only", default=",".join(PARTS), help="comma list of parts")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--workdir", type=Path, default=None, help="keep models/logs here")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; parts are {', '.join(PARTS)}")
    if args.inprocess_seconds is None:
        args.inprocess_seconds = min(5.0, args.duration)
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    print(f"preparing models in {workdir}", flush=True)
    prepared = prepare(workdir)
    bodies = make_bodies(prepared, workdir / "bodies")
    ctx = Context(prepared, workdir, bodies, args.duration, args.repeat, args.inprocess_seconds)
    meta = describe(args)
    figures: Figures = {}
    for round_number in range(1, args.rounds + 1):
        for part in args.parts:
            print(f"{part} (round {round_number} of {args.rounds}):", flush=True)
            merge(figures, PARTS[part](ctx))
    meta["load_after"] = os.getloadavg()
    rows = targets(figures)
    print_report(figures, rows)
    return as_json(meta, figures, rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if set(args.parts) - {"inprocess"}:
        try:
            wrk_path()
        except WrkMissing as exc:
            print(exc, file=sys.stderr)
            return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="modelport-bench-"))
    try:
        results = run(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
