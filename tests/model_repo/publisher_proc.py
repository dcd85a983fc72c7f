"""Run as a separate process by the repository tests: publish, or die while publishing."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from model_repo.repository import Repository
from tests.artifacts import publish_tiny


def publish_many(
    root: str, name: str, count: int, first: float = 0.0, go_file: str | None = None
) -> None:
    """Publish `count` versions with offsets first, first + 1 ...; with `go_file`, only once
    it exists, so that several publishers started one after another publish at once."""
    repo = Repository(root)
    if go_file is not None:
        Path(f"{go_file}.{os.getpid()}").touch()  # ready
        while not Path(go_file).exists():
            time.sleep(0.001)
    for i in range(count):
        publish_tiny(repo, name, offset=first + i)


def write_forever(root: str, name: str, ready_file: str) -> None:
    """Stage a version and keep writing its artifact until killed."""
    repo = Repository(root)
    with repo.stage(name) as staging, (staging.path / "model.onnx").open("wb") as handle:
        handle.write(b"\0" * 4096)
        handle.flush()
        Path(ready_file).write_text(str(staging.path))
        while True:
            handle.write(b"\1" * 4096)
            handle.flush()
            time.sleep(0.001)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "many":
        publish_many(args[0], args[1], int(args[2]), *map(float, args[3:4]), *args[4:])
    else:
        write_forever(*args)
