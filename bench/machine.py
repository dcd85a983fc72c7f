"""What the run was made on: CPU, memory, load, versions, the command."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = ("onnxruntime", "numpy", "orjson", "uvicorn", "uvloop", "httptools",
            "tensorflow-cpu", "jpmml-evaluator", "JPype1", "scikit-learn", "torch")  # fmt: skip


def cpu_model() -> str:
    try:
        done = subprocess.run(["lscpu"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in done.stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def memory_gib() -> float:
    kib = int(Path("/proc/meminfo").read_text().split()[1])
    return round(kib / 2**20, 1)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        found["wrk"] = (wrk.stdout or wrk.stderr).split("[")[0].replace("wrk ", "").strip()
    except OSError:
        pass
    return found


def checkout() -> dict[str, str | int]:
    """The commit measured, and how many paths differ from it (the gateway may be in
    progress in the same tree)."""
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            [*git, "status", "--porcelain"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown"}
    return {"commit": head, "uncommitted_paths": len(status.splitlines())}


def describe(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(
            [sys.executable.rsplit("/", 1)[-1], "-m", "bench.run", *sys.argv[1:]]
        ),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "load_before": os.getloadavg(),
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
        "duration_s": args.duration,
        "repeat": args.repeat,
        "rounds": args.rounds,
        "versions": versions(),
        "checkout": checkout(),
    }
