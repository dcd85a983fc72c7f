from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from model_repo import (
    AliasTarget,
    Conflict,
    IntegrityError,
    InvalidArgument,
    NotFound,
    Repository,
    RepositoryError,
)
from model_repo.repository import STAGING_DIR
from tests.artifacts import publish_tiny

ROOT = Path(__file__).resolve().parents[2]


def _run_publisher(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.model_repo.publisher_proc", *args],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )


def test_publish_numbers_versions_and_records_hashes(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    first = publish_tiny(repo, "adder", offset=1.0)
    second = publish_tiny(repo, "adder", offset=2.0)
    assert (first.version, second.version) == (1, 2)
    assert repo.versions("adder") == [1, 2]
    stored = repo.manifest("adder", 2)
    artifact = repo.version_dir("adder", 2) / "model.onnx"
    assert stored.files == {"model.onnx": hashlib.sha256(artifact.read_bytes()).hexdigest()}
    on_disk = json.loads((repo.version_dir("adder", 2) / "manifest.json").read_text())
    assert on_disk["files"] == stored.files and on_disk["version"] == 2
    assert on_disk["signature"]["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}]
    assert stored.created
    manifest, predictor = repo.open("adder", 2)
    out = predictor.predict({"x": np.array([[1.0, 2.0]], dtype=np.float32)})
    np.testing.assert_allclose(out["y"], [[3.0, 4.0]])
    assert manifest == stored


def test_default_version_is_stable_alias_else_latest(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    for offset in (1.0, 2.0, 3.0):
        publish_tiny(repo, "adder", offset)
    assert repo.resolve("adder") == 3
    repo.set_alias("adder", "stable", AliasTarget(version=1))
    assert repo.resolve("adder") == 1
    assert repo.resolve("adder", "stable") == 1
    assert repo.resolve("adder", "2") == 2
    with pytest.raises(NotFound, match="no alias 'canary'"):
        repo.resolve("adder", "canary")
    with pytest.raises(NotFound, match=r"no version 7 \(versions: 1, 2, 3\)"):
        repo.resolve("adder", 7)
    with pytest.raises(NotFound, match="model 'nope' not found"):
        repo.resolve("nope")


def test_two_concurrent_publishers_get_distinct_versions(tmp_path: Path) -> None:
    count, go = 20, tmp_path / "go"
    procs = [
        _run_publisher("many", str(tmp_path / "repo"), "shared", str(count), str(first), str(go))
        for first in (0, 1000)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.*"))) < len(procs):  # both started, waiting
        assert all(p.poll() is None for p in procs)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    go.touch()
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr.decode()
    repo = Repository(tmp_path / "repo")
    assert repo.versions("shared") == list(range(1, 2 * count + 1))
    offsets = [repo.manifest("shared", v).notes["offset"] for v in repo.versions("shared")]
    assert sorted(offsets) == [float(i) for i in range(count)] + [1000.0 + i for i in range(count)]
    # Each publisher's versions in its own order, and the two really ran at once (they meet
    # half-way, so each has versions both before and after some of the other's).
    publisher = [offset >= 1000 for offset in offsets]
    for mine in (False, True):
        own = [o for o, p in zip(offsets, publisher, strict=True) if p is mine]
        assert own == sorted(own)
    switches = sum(a != b for a, b in itertools.pairwise(publisher))
    assert switches > 1, publisher


def test_publisher_killed_mid_write_leaves_no_visible_version(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    ready = tmp_path / "ready.txt"
    proc = _run_publisher("forever", str(tmp_path), "adder", str(ready))
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    staging_box = Path(ready.read_text()).parent
    assert staging_box.exists()  # the dead publisher's leftovers
    assert repo.versions("adder") == [1]
    reopened = Repository(tmp_path)
    assert not staging_box.exists()
    assert reopened.versions("adder") == [1]
    assert publish_tiny(reopened, "adder").version == 2


def test_live_publishers_staging_dir_survives_reopen(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    with repo.stage("adder") as staging:
        Repository(tmp_path)  # another process opening the repository meanwhile
        assert staging.path.exists()
    assert not any((tmp_path / STAGING_DIR).iterdir())


@pytest.mark.parametrize("tamper", ["modify", "add", "remove"])
def test_tampered_artifact_is_refused_on_open(tmp_path: Path, tamper: str) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    version_dir = repo.version_dir("adder", 1)
    if tamper == "modify":
        data = bytearray((version_dir / "model.onnx").read_bytes())
        data[-1] ^= 0xFF
        (version_dir / "model.onnx").write_bytes(bytes(data))
        expected = "model.onnx does not match its sha256"
    elif tamper == "add":
        (version_dir / "extra.bin").write_bytes(b"x")
        expected = "extra.bin is not in the manifest"
    else:
        (version_dir / "model.onnx").unlink()
        expected = "model.onnx is missing"
    with pytest.raises(IntegrityError, match=expected):
        repo.open("adder", 1)


def test_alias_to_missing_version_is_refused_and_keeps_old_target(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    publish_tiny(repo, "adder")
    repo.set_alias("adder", "stable", AliasTarget(version=1))
    with pytest.raises(Conflict, match=r"version\(s\) 9: no such version"):
        repo.set_alias("adder", "stable", AliasTarget(version=9))
    assert repo.aliases("adder")["stable"] == AliasTarget(version=1)
    stored = json.loads((tmp_path / "adder" / "aliases.json").read_text())
    assert stored == {"stable": {"version": 1}}


def test_weighted_alias_validation_and_sticky_pick(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    publish_tiny(repo, "adder")
    split = AliasTarget.from_dict({"weights": {"1": 90, "2": 10}})
    repo.set_alias("adder", "canary", split)
    assert repo.aliases("adder")["canary"].versions == (1, 2)
    assert len({repo.resolve("adder", "canary", key="user-42") for _ in range(20)}) == 1
    bad_bodies = {
        '{"weights": {"1": 90, "2": 20}}': "sum to 100, they sum to 110",
        '{"weights": {"1": 110, "2": -10}}': "weight of version 2 is negative",
        '{"weights": {"x": 100}}': "weights key must be a positive integer",
        '{"version": 1, "weights": {"1": 100}}': "not both",
        '{"version": "two"}': "version must be a positive integer",
        '{"colour": 1}': "unknown field",
    }
    for body, message in bad_bodies.items():
        with pytest.raises(InvalidArgument, match=message):
            AliasTarget.from_dict(json.loads(body))


def test_delete_version_refused_while_aliased_and_numbers_not_reused(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    publish_tiny(repo, "adder")
    repo.set_alias("adder", "stable", AliasTarget(version=2))
    with pytest.raises(Conflict, match="target of alias"):
        repo.delete_version("adder", 2)
    repo.delete_alias("adder", "stable")
    repo.delete_version("adder", 2)
    assert repo.versions("adder") == [1]
    assert publish_tiny(repo, "adder").version == 3
    with pytest.raises(NotFound, match="no version 2"):
        repo.delete_version("adder", 2)


@pytest.mark.parametrize("bad", ["", "../evil", ".hidden", "a/b", "x" * 200])
def test_bad_model_names_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidArgument, match="model name"):
        publish_tiny(Repository(tmp_path), bad)


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "file"
    root.write_text("not a dir")
    with pytest.raises(RepositoryError, match="is not a directory"):
        Repository(root)


def test_unwritable_root_raises_not_writable_and_changes_nothing(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    publish_tiny(repo, "adder")
    directories = [tmp_path / "repo", *(p for p in (tmp_path / "repo").rglob("*") if p.is_dir())]
    for directory in directories:
        directory.chmod(0o555)
    code = (
        "from model_repo import Repository, NotWritable\n"
        "from tests.artifacts import publish_tiny\n"
        f"repo = Repository({str(tmp_path / 'repo')!r})\n"
        "try:\n    publish_tiny(repo, 'adder')\n"
        "except NotWritable as exc:\n    print(exc)\n    raise SystemExit(3)\n"
    )
    # root ignores permission bits; the child drops the capabilities that let it.
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    command = [*(prefix if os.geteuid() == 0 else []), sys.executable, "-c", code]
    try:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        for directory in directories:
            directory.chmod(0o755)
    assert result.returncode == 3, result.stderr
    assert "is not writable" in result.stdout
    assert Repository(tmp_path / "repo").versions("adder") == [1]
