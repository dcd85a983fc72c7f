"""Run as a separate process by the repository tests: publish, or die while publishing."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from model_repo._s3storage import S3Storage
from model_repo.aliases import AliasTarget
from model_repo.manifest import Manifest, Provenance
from model_repo.repository import Repository
from tests.artifacts import publish_tiny, write_tiny_onnx


def publish_many(
    root: str, name: str, count: int, first: float = 0.0, go_file: str | None = None
) -> None:
    """Publish `count` versions with offsets first, first + 1 ...; with `go_file`, only once
    it exists, so that several publishers started one after another publish at once.

    With `go_file`, two publishers also wait for each other half-way: their versions then
    interleave however the machine schedules them (a loaded machine could otherwise run one
    to its end before the other starts, and the test would prove nothing about concurrency).
    """
    repo = Repository(root)
    if go_file is not None:
        Path(f"{go_file}.{os.getpid()}").touch()  # ready
        _wait_for(lambda: Path(go_file).exists())
    for i in range(count):
        if go_file is not None and i == count // 2:
            Path(f"{go_file}-half.{os.getpid()}").touch()
            _wait_for(
                lambda: len(list(Path(go_file).parent.glob(f"{Path(go_file).name}-half.*"))) >= 2
            )
        publish_tiny(repo, name, offset=first + i)


def _wait_for(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the other writer never arrived")
        time.sleep(0.001)


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


def publish_big(root: str, name: str, megabytes: str, hold_file: str | None = None) -> None:
    """Publish one version whose files take a while to upload (to be killed meanwhile).

    With `hold_file` (S3 only), every file is uploaded, `<hold_file>.staged` says so, and the
    manifest is written only once `hold_file` exists: a reader then looks at a half-published
    version however the machine schedules the two processes.
    """
    if hold_file is not None:
        _hold_after_upload(hold_file)
    repo = Repository(root)
    with repo.stage(name) as staging:
        signature = write_tiny_onnx(staging.path / "model.onnx")
        with (staging.path / "weights.bin").open("wb") as handle:
            for _ in range(int(megabytes)):
                handle.write(os.urandom(1 << 20))
        draft = Manifest(name, "onnx", "model.onnx", signature, Provenance(framework="onnx"))
        staging.publish(draft)


def _hold_after_upload(hold_file: str) -> None:
    """Pause S3 publishing between the files and the manifest (the real upload still runs)."""
    upload = S3Storage._upload

    def upload_then_hold(
        storage: S3Storage, name: str, number: int, content: Path, files: list[str]
    ) -> None:
        upload(storage, name, number, content, files)
        Path(f"{hold_file}.staged").touch()
        _wait_for(lambda: Path(hold_file).exists())

    S3Storage._upload = upload_then_hold  # type: ignore[method-assign, assignment]


def set_aliases(root: str, name: str, prefix: str, count: str, go_file: str) -> None:
    """Point `count` aliases `<prefix>0`, `<prefix>1` ... at version 1, once `go_file` exists."""
    repo = Repository(root)
    Path(f"{go_file}.{os.getpid()}").touch()
    _wait_for(lambda: Path(go_file).exists())
    for i in range(int(count)):
        repo.set_alias(name, f"{prefix}{i}", AliasTarget(version=1))


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "many":
        root, name, count, *rest = args
        first = float(rest[0]) if rest else 0.0
        publish_many(root, name, int(count), first, rest[1] if len(rest) > 1 else None)
    elif mode == "big":
        publish_big(*args)
    elif mode == "aliases":
        set_aliases(*args)
    else:
        write_forever(*args)
