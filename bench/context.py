"""What every part of a bench run shares: the models, the request bodies, the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.models import Prepared
from bench.payloads import Body, write_binary_body, write_json_body

INFER = "/v2/models/{}/infer"
T1_CONNECTIONS = 32
T3_CONNECTIONS = 4
T4_CONNECTIONS = 64
T5_CONNECTIONS = 32


@dataclass(frozen=True)
class Bodies:
    iris: Body  # one row, one `input` [1, 4] tensor: gateway, floor and MLServer alike
    iris_frame: Body  # one row as four [1, 1] column tensors
    iris_binary: Body  # 10,000 x 4 FP32 rows, binary tensor extension
    mlp: Body
    pmml: Body
    keras: Body


@dataclass(frozen=True)
class Context:
    prepared: Prepared
    workdir: Path
    bodies: Bodies
    seconds: float
    repeat: int
    inprocess_seconds: float


def make_bodies(prepared: Prepared, folder: Path) -> Bodies:
    folder.mkdir(parents=True, exist_ok=True)
    repo = prepared.repo
    return Bodies(
        iris=write_json_body(folder, "iris", repo),
        iris_frame=write_json_body(folder, "iris-frame", repo),
        iris_binary=write_binary_body(folder, "iris", repo),
        mlp=write_json_body(folder, "mlp", repo),
        pmml=write_json_body(folder, "iris-pmml", repo),
        keras=write_json_body(folder, "keras", repo),
    )
