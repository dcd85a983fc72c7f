"""The CLI's HTTP clients of a gateway: `push` (upload) and `predict` (V2 inference).

`predict` builds a V2 request from a data file using the model's metadata: a .json that is
already a V2 request is sent as is; otherwise a .json of columns (`{"col": [...]}`), of rows
(`[{"col": v}, ...]`) or of plain rows (`[[...], ...]`), or a .csv with a header row, is
matched to the model's inputs by name (a model with one 2-D input takes all the columns).
"""

from __future__ import annotations

import contextlib
import csv
import json
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

from gateway.cli.errors import RemoteError, Unreachable
from model_repo.errors import InvalidArgument

PUSH_TIMEOUT = 900.0  # a server-side conversion with a parity check takes a while
PREDICT_TIMEOUT = 60.0


def push_model(
    url: str,
    path: Path,
    name: str,
    *,
    to: str | None = None,
    token: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """Upload an artifact or a model (a directory is sent as .tar.gz); the new manifest."""
    if not path.exists():
        raise InvalidArgument(f"{path} does not exist")
    fields = {k: v for k, v in (("to", to), ("alias", alias)) if v}
    with _as_upload(path) as (filename, handle):
        response = _send(
            "POST",
            f"{url.rstrip('/')}/v2/repository/models/{quote(name, safe='')}/versions",
            token,
            PUSH_TIMEOUT,
            files={"file": (filename, handle, "application/octet-stream")},
            data=fields,
        )
    result: dict[str, Any] = response.json()
    return result


def predict_file(
    url: str, name: str, data: Path, *, version: str | None = None, token: str | None = None
) -> dict[str, Any]:
    """Send the rows in `data` to model `name`; the outputs as nested lists, by name."""
    base = f"{url.rstrip('/')}/v2/models/{quote(name, safe='')}"
    if version:
        base += f"/versions/{quote(version, safe='')}"
    body = _read_request(data)
    if body is None:
        specs = _send("GET", base, token, PREDICT_TIMEOUT).json()["inputs"]
        body = {"inputs": build_inputs(specs, _read_table(data))}
    doc = _send("POST", base + "/infer", token, PREDICT_TIMEOUT, json=body).json()
    return {
        "model_name": doc["model_name"],
        "model_version": doc["model_version"],
        "outputs": {out["name"]: _nest(out["data"], out["shape"]) for out in doc["outputs"]},
    }


def build_inputs(specs: list[dict[str, Any]], table: dict[str, list[Any]] | list[Any]) -> list[Any]:
    """V2 inputs for `specs` from columns (by name) or plain rows (a single 2-D input)."""
    if isinstance(table, list) or not all(s["name"] in table for s in specs):
        if len(specs) != 1 or len(specs[0]["shape"]) != 2:
            wanted = ", ".join(s["name"] for s in specs)
            raise InvalidArgument(f"the data must name the model's inputs: {wanted}")
        rows = (
            table
            if isinstance(table, list)
            else [list(r) for r in zip(*table.values(), strict=True)]
        )
        return [_tensor(specs[0], rows, [len(rows), len(rows[0]) if rows else 0])]
    tensors = []
    for spec in specs:
        values = table[spec["name"]]
        shape = [len(values), *([1] * (len(spec["shape"]) - 1))]
        if values and isinstance(values[0], list):
            shape = [len(values), len(values[0])]
        tensors.append(_tensor(spec, values, shape))
    return tensors


def _tensor(spec: dict[str, Any], values: list[Any], shape: list[int]) -> dict[str, Any]:
    datatype = spec["datatype"]
    try:
        data = _typed(values, datatype)
    except ValueError as exc:
        raise InvalidArgument(f"input {spec['name']!r}: {exc}") from None
    return {"name": spec["name"], "datatype": datatype, "shape": shape, "data": data}


def _typed(values: Any, datatype: str) -> Any:
    """Values read from text (CSV cells) as the input's type; a blank cell is missing
    (null), which the gateway takes as NaN for numbers and as missing for PMML strings."""
    if isinstance(values, list):
        return [_typed(v, datatype) for v in values]
    if not isinstance(values, str):
        return values
    if not values.strip():
        return None
    if datatype == "BYTES":
        return values
    if datatype == "BOOL":
        return values.strip().lower() in ("1", "true", "yes")
    try:
        number = float(values)
    except ValueError:
        raise ValueError(f"{values!r} is not a number ({datatype})") from None
    if datatype.startswith("FP"):
        return number
    if not number.is_integer():  # int() would cut 1.5 to 1 without a word
        raise ValueError(f"{values!r} is not a whole number ({datatype})")
    return int(values) if values.strip().lstrip("+-").isdigit() else int(number)


def _read_request(data: Path) -> dict[str, Any] | None:
    if data.suffix.lower() != ".json":
        return None
    doc = _load_json(data)
    return doc if isinstance(doc, dict) and isinstance(doc.get("inputs"), list) else None


def _read_table(data: Path) -> dict[str, list[Any]] | list[Any]:
    suffix = data.suffix.lower()
    if suffix == ".csv":
        with data.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise InvalidArgument(f"{data} has no rows")
        return {column: [row[column] for row in rows] for column in rows[0]}
    if suffix != ".json":
        raise InvalidArgument(f"{data}: give the data as .json or .csv")
    doc = _load_json(data)
    if isinstance(doc, list) and doc and isinstance(doc[0], dict):
        return {key: [row[key] for row in doc] for key in doc[0]}
    if isinstance(doc, dict | list):
        return doc
    raise InvalidArgument(f"{data} holds neither rows nor columns")


def _load_json(data: Path) -> Any:
    try:
        return json.loads(data.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"{data} is not readable JSON: {exc}") from exc


def _nest(data: list[Any], shape: list[int]) -> Any:
    import numpy as np

    return np.asarray(data, dtype=object).reshape(shape).tolist()


@contextlib.contextmanager
def _as_upload(path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    if path.is_file():
        with path.open("rb") as handle:
            yield path.name, handle
        return
    with tempfile.TemporaryDirectory(prefix="modelport-push-") as tmp:
        archive = Path(tmp) / f"{path.name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(path, arcname=path.name)
        with archive.open("rb") as handle:
            yield archive.name, handle


def _send(
    method: str, url: str, token: str | None, timeout: float, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(method, url, headers=headers, timeout=timeout, **kwargs)
    except httpx.HTTPError as exc:
        raise Unreachable(f"cannot reach {url}: {exc}") from exc
    if response.status_code >= 400:
        raise RemoteError(
            f"{response.status_code} from {url}: {_message(response)}", response.status_code
        )
    return response


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500] or response.reason_phrase
