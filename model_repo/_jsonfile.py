"""The repository's small JSON documents: read one as an object, replace one atomically.

Reading translates every way a stored document can be broken (unreadable, not UTF-8, not
JSON, not an object) into the caller's error naming the file, so no raw ValueError or
JSONDecodeError escapes the repository. `parse_object` does the same for a document read
from object storage, named by its URL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model_repo._fs import write_atomic
from model_repo.errors import ModelportError

_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}


def read_object(path: Path, error: type[ModelportError], what: str) -> dict[str, Any]:
    """The JSON object stored at `path`; `error` naming `what` and the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{what} {path} cannot be read: {exc}") from exc
    return parse_object(data, error, what, str(path))


def parse_object(data: bytes, error: type[ModelportError], what: str, where: str) -> dict[str, Any]:
    """The JSON object in `data`, read from `where`; `error` naming both otherwise."""
    try:
        text = data.decode("utf-8")
    except ValueError as exc:  # UnicodeDecodeError
        raise error(f"{what} {where} is corrupt: not UTF-8 text ({exc})") from exc
    try:
        parsed = json.loads(text)
    except ValueError as exc:  # JSONDecodeError
        raise error(f"{what} {where} is corrupt: not valid JSON ({exc})") from exc
    if not isinstance(parsed, dict):
        kind = "true/false" if isinstance(parsed, bool) else _JSON_KINDS.get(type(parsed), "null")
        raise error(f"{what} {where} is corrupt: it holds {kind}, not a JSON object")
    return parsed


def encode_object(body: dict[str, Any]) -> bytes:
    return (json.dumps(body, indent=2) + "\n").encode()


def write_object(path: Path, body: dict[str, Any]) -> None:
    """Replace the document at `path` with `body`, indented, as readers see it whole."""
    write_atomic(path, encode_object(body))
