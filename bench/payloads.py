"""Request bodies: V2 JSON for single rows, and the binary tensor extension for batches.

Every body is built once, written to a file, and posted unchanged by wrk, so each server
sees byte-for-byte the same request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from model_repo import Repository, Signature

IRIS_ROW = np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32)
BATCH_ROWS = 10_000
JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"
HEADER_LENGTH = "Inference-Header-Content-Length"


@dataclass(frozen=True)
class Body:
    """A request body on disk, with the headers it needs."""

    path: Path
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    rows: int = 1

    def read(self) -> bytes:
        return self.path.read_bytes()


def signature_of(repo: Path, name: str) -> Signature:
    repository = Repository(repo)
    return repository.manifest(name, repository.latest(name)).signature


def sample_rows(signature: Signature, rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs of `rows` rows: iris-like values for 4-feature inputs, uniform otherwise."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for spec in signature.inputs:
        width = [abs(d) for d in spec.shape[1:]]
        if width == [4]:
            noise = rng.normal(0, 0.1, (rows, 4)).astype(np.float32)
            tensors[spec.name] = np.repeat(IRIS_ROW, rows, axis=0) + noise
        else:
            tensors[spec.name] = rng.uniform(0, 5, (rows, *width)).astype(np.float32)
    return tensors


def v2_json(tensors: dict[str, np.ndarray]) -> bytes:
    inputs = [
        {"name": name, "shape": list(a.shape), "datatype": "FP32", "data": a.ravel().tolist()}
        for name, a in tensors.items()
    ]
    return orjson.dumps({"inputs": inputs})


def v2_binary(tensors: dict[str, np.ndarray], outputs: list[str]) -> tuple[bytes, int]:
    """Triton's binary tensor extension: a JSON header, then the raw tensors; binary out."""
    inputs = [
        {
            "name": name,
            "shape": list(a.shape),
            "datatype": "FP32",
            "parameters": {"binary_data_size": a.nbytes},
        }
        for name, a in tensors.items()
    ]
    wanted = [{"name": n, "parameters": {"binary_data": True}} for n in outputs]
    header = orjson.dumps({"inputs": inputs, "outputs": wanted})
    raw = b"".join(np.ascontiguousarray(a).tobytes() for a in tensors.values())
    return header + raw, len(header)


def write_json_body(folder: Path, name: str, repo: Path, rows: int = 1) -> Body:
    tensors = sample_rows(signature_of(repo, name), rows)
    path = folder / f"{name}-{rows}.json"
    path.write_bytes(v2_json(tensors))
    return Body(path, rows=rows)


def write_binary_body(folder: Path, name: str, repo: Path, rows: int = BATCH_ROWS) -> Body:
    signature = signature_of(repo, name)
    body, header = v2_binary(sample_rows(signature, rows), list(signature.output_names))
    path = folder / f"{name}-{rows}.bin"
    path.write_bytes(body)
    return Body(path, BINARY_TYPE, {HEADER_LENGTH: str(header)}, rows)
