"""Staging boxes: a live publisher's box is never cleaned away, an abandoned one always is."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from model_repo import Repository
from model_repo._fs import acquire_lock
from model_repo.repository import TRASH_DIR
from model_repo.staging import GRACE_S, LOCK_FILE, NEW_PREFIX, STAGING_DIR
from tests.artifacts import publish_tiny

ROOT = Path(__file__).resolve().parents[2]


def _new_box(root: Path, age_s: float = 0.0) -> Path:
    """A box as a publisher leaves it between mkdir and flock: temporary name, no lock."""
    box = root / STAGING_DIR / f"{NEW_PREFIX}{uuid.uuid4().hex}"
    box.mkdir(parents=True)
    then = time.time() - age_s
    os.utime(box, (then, then))
    return box


def test_a_young_unlocked_new_box_survives_a_reopen(tmp_path: Path) -> None:
    box = _new_box(tmp_path)
    Repository(tmp_path)
    assert box.is_dir()


def test_an_old_unlocked_new_box_is_abandoned_and_removed(tmp_path: Path) -> None:
    box = _new_box(tmp_path, age_s=GRACE_S + 60)
    Repository(tmp_path)
    assert not box.exists()


def test_an_old_new_box_whose_lock_is_held_survives(tmp_path: Path) -> None:
    box = _new_box(tmp_path)
    fd = acquire_lock(box / LOCK_FILE)  # a publisher stalled right after taking its lock
    try:
        then = time.time() - GRACE_S - 60
        os.utime(box, (then, then))
        Repository(tmp_path)
        assert box.is_dir()
    finally:
        os.close(fd)


def test_a_box_has_its_final_name_and_lock_while_in_use(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    with repo.stage("adder") as staging:
        box = staging.path.parent
        assert box.name.startswith(f"{os.getpid()}-")
        assert [p.name for p in (tmp_path / STAGING_DIR).iterdir()] == [box.name]
        other_fd = os.open(box / LOCK_FILE, os.O_RDWR)
        try:
            Repository(tmp_path)
            assert staging.path.is_dir()
        finally:
            os.close(other_fd)
    assert not any((tmp_path / STAGING_DIR).iterdir())


def test_publishing_while_another_process_keeps_cleaning(tmp_path: Path) -> None:
    """The race the temporary name closes: a cleaner between a publisher's mkdir and flock.

    Each round is a window of a few microseconds, so the test runs many rounds against a
    cleaner that never pauses; before the fix it lost a box within a second or so.
    """
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    root = tmp_path / "repo"
    cleaner = subprocess.Popen(
        [sys.executable, "-m", "tests.model_repo.cleaner_proc", str(root), str(ready), str(stop)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        while not ready.exists():
            assert cleaner.poll() is None, cleaner.stderr.read().decode() if cleaner.stderr else ""
            time.sleep(0.01)
        repo = Repository(root)
        deadline = time.monotonic() + 3.0
        rounds = 0
        while time.monotonic() < deadline:
            with repo.stage("adder") as staging:
                (staging.path / "model.onnx").write_bytes(b"x")
                assert (staging.path / "model.onnx").read_bytes() == b"x"
            rounds += 1
        publish_tiny(repo, "adder")  # and a whole publish, for good measure
    finally:
        stop.touch()
        _, stderr = cleaner.communicate(timeout=60)
    assert cleaner.returncode == 0, stderr.decode()
    assert rounds > 100
    assert repo.versions("adder") == [1]


def test_a_fresh_writability_probe_survives_a_reopen_and_a_stale_one_goes(
    tmp_path: Path,
) -> None:
    """A writer checks `.staging` and `.trash` are writable with a short-lived probe file."""
    probes = []
    for holder in (STAGING_DIR, TRASH_DIR):
        (tmp_path / holder).mkdir()
        fresh, stale = tmp_path / holder / ".probe-fresh", tmp_path / holder / ".probe-stale"
        fresh.touch()
        stale.touch()
        then = time.time() - GRACE_S - 60
        os.utime(stale, (then, then))
        probes.append((fresh, stale))
    Repository(tmp_path)
    for fresh, stale in probes:
        assert fresh.exists()
        assert not stale.exists()
