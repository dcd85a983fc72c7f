"""MLServer, installed by the bench into its own virtual environment, and its model folder.

The environment (bench/.mlserver-venv, git-ignored) is made with the system's Python 3.11
and the pinned versions below; a stamp file records the pins and the install time, so later
runs reuse it (and still report how long the install took) and a change of pins rebuilds it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# uvloop 0.22+ breaks MLServer 1.7.1's parallel workers (asyncio.get_event_loop() in a fresh
# process raises "There is no current event loop"), so it is held at 0.21.
PINS = (
    "mlserver==1.7.1",
    "mlserver-sklearn==1.7.1",
    "scikit-learn==1.9.0",
    "uvloop==0.21.0",
)
VENV = Path(__file__).with_name(".mlserver-venv")
STAMP = "bench-pins.json"
PYTHON = "python3.11"
MODEL_NAME = "iris"
# Single process, like the gateway under test (1 worker); no metrics server.
LEAN_SETTINGS: dict[str, object] = {"parallel_workers": 0, "metrics_endpoint": None}
# MLServer's defaults: inference in one separate worker process, metrics on.
DEFAULT_SETTINGS: dict[str, object] = {}


@dataclass(frozen=True)
class MLServerEnv:
    venv: Path
    install_seconds: float  # how long the install took, when it was made
    reused: bool
    version: str

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "mlserver"


def ensure(venv: Path = VENV) -> MLServerEnv:
    """The MLServer environment, created or rebuilt when its pins changed."""
    stamp = venv / STAMP
    recorded = json.loads(stamp.read_text()) if stamp.is_file() else {}
    reused = recorded.get("pins") == list(PINS)
    if not reused:
        recorded = {"pins": list(PINS), "install_seconds": round(_install(venv), 1)}
        stamp.write_text(json.dumps(recorded))
    return MLServerEnv(venv, recorded["install_seconds"], reused, _version(venv))


def _install(venv: Path) -> float:
    python = shutil.which(PYTHON)
    if python is None:
        raise RuntimeError(f"MLServer's environment needs {PYTHON} on PATH")
    started = time.perf_counter()
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    done = subprocess.run(
        [*pip, "--disable-pip-version-check", *PINS], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"installing {' '.join(PINS)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def _version(venv: Path) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "mlserver"), "--version"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().split()[-1]


def model_folder(
    root: Path, joblib_path: Path, ports: dict[str, int], settings: dict[str, object]
) -> Path:
    """A folder `mlserver start` serves: settings.json and the iris model's directory.
    `ports` has http_port, grpc_port and metrics_port (all free)."""
    root.mkdir(parents=True, exist_ok=True)
    server = {"host": "127.0.0.1", **ports, **settings}
    (root / "settings.json").write_text(json.dumps(server))
    model_dir = root / MODEL_NAME
    model_dir.mkdir(exist_ok=True)
    shutil.copy(joblib_path, model_dir / "model.joblib")
    config = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(config))
    return root


def command(env: MLServerEnv, folder: Path) -> list[str]:
    return [str(env.executable), "start", str(folder)]
