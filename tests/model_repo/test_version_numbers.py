"""Publishing at a given version number (an import keeping TF Serving's or Triton's numbers,
an upload naming its version): exactly that number, or a refusal, and never a reused one."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from model_repo import Repository
from model_repo.errors import Conflict, InvalidArgument
from model_repo.manifest import Manifest, Provenance
from model_repo.staging import MAX_VERSION, STAGING_DIR, Staging
from tests.artifacts import publish_tiny, write_tiny_onnx


def test_a_requested_number_is_published_as_is_and_the_count_goes_on_above_it(
    tmp_path: Path,
) -> None:
    repo = Repository(tmp_path)
    assert publish_tiny(repo, "adder", version=123).version == 123
    assert repo.versions("adder") == [123]
    assert publish_tiny(repo, "adder").version == 124
    assert publish_tiny(repo, "adder", version=200).version == 200
    assert repo.manifest("adder", 200).version == 200


@pytest.mark.parametrize("taken", [1, 2, 3])
def test_a_number_given_before_is_refused_even_once_deleted(tmp_path: Path, taken: int) -> None:
    repo = Repository(tmp_path)
    for _ in range(3):
        publish_tiny(repo, "adder")
    repo.delete_version("adder", 3)
    with pytest.raises(Conflict, match="versions up to 3; give a number above 3") as refusal:
        publish_tiny(repo, "adder", version=taken)
    assert "never reused" in str(refusal.value)
    assert repo.versions("adder") == [1, 2]
    assert list((tmp_path / STAGING_DIR).iterdir()) == []


def test_the_refusal_comes_before_any_work_and_again_at_publishing(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder", version=5)
    with pytest.raises(Conflict), repo.stage("adder", version=5):
        pytest.fail("the staging area was handed out for a number already given")
    with repo.stage("adder", version=6) as late:
        publish_tiny(repo, "adder", version=6)  # another publisher got there meanwhile
        with pytest.raises(Conflict, match="as version 6"):
            publish_tiny_into(late)
    assert repo.versions("adder") == [5, 6]


def test_two_publishers_asking_for_one_number_get_it_once(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def publish() -> None:
        start.wait()
        try:
            outcomes.append(str(publish_tiny(repo, "adder", version=7).version))
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["7", "refused"]
    assert repo.versions("adder") == [7]


@pytest.mark.parametrize("bad", [0, -1, MAX_VERSION + 1])
def test_a_number_out_of_range_is_refused(tmp_path: Path, bad: int) -> None:
    with pytest.raises(InvalidArgument, match=f"version {bad} is not a version number"):
        publish_tiny(Repository(tmp_path), "adder", version=bad)
    assert not (tmp_path / "adder").exists()


def publish_tiny_into(staging: Staging) -> None:
    """Finish a staging area handed out earlier, as a slow publisher would."""
    signature = write_tiny_onnx(staging.path / "model.onnx")
    draft = Manifest(
        name=staging.name,
        format="onnx",
        artifact="model.onnx",
        signature=signature,
        provenance=Provenance(framework="onnx"),
    )
    staging.publish(draft)
