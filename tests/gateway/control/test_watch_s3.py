"""Change detection on S3: one listing per look, ETags compared, no object read."""

from __future__ import annotations

import statistics
import time

from gateway.control.watch import RepositoryWatch
from model_repo._objects import ObjectUrl
from model_repo.aliases import AliasTarget
from model_repo.model_config import ModelConfig, VersionPolicy
from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.s3 import MotoS3


def _put(moto: MotoS3, root: str, key: str, body: bytes) -> None:
    url = ObjectUrl.parse(root)
    moto.client().put_object(Bucket=url.bucket, Key=f"{url.prefix}/{key}", Body=body)


def test_every_kind_of_change_is_seen_once(s3_root: str, moto: MotoS3) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "a")
    publish_tiny(repo, "b")
    looking = RepositoryWatch(repo)
    first = looking.look()
    assert first.models == {"a", "b"} and first.releases  # the first look: everything
    assert looking.look().models == set()
    publish_tiny(repo, "a", 2.0)
    assert looking.look().models == {"a"}
    repo.set_alias("b", "stable", AliasTarget(version=1))
    assert looking.look().models == {"b"}
    repo.set_config("a", ModelConfig(VersionPolicy(latest=2)))
    assert looking.look().models == {"a"}
    _put(moto, s3_root, "b/aliases.json", b"{}")  # written by hand
    assert looking.look().models == {"b"}
    repo.delete_version("a", 1)
    assert looking.look().models == {"a"}
    _put(moto, s3_root, "a/.claims/9", b"{}")  # a publisher uploading version 9
    _put(moto, s3_root, "a/9/model.onnx", b"half")
    changes = looking.look()
    assert changes.models == set() and not changes.releases  # no manifest: no version yet
    repo.releases.set("r", {"a": 2})
    changes = looking.look()
    assert changes.releases and changes.models == set()
    assert not looking.look().releases


def test_a_look_at_20_models_of_5_versions_is_one_request(s3_root: str) -> None:
    repo = Repository(s3_root)
    for model in range(20):
        for version in range(5):
            publish_tiny(repo, f"m{model}", offset=float(version))
        repo.set_alias(f"m{model}", "stable", AliasTarget(version=5))
    looking = RepositoryWatch(repo)
    assert len(looking.look().models) == 20
    durations = []
    for _ in range(20):
        started = time.perf_counter()
        assert looking.look().models == set()
        durations.append(time.perf_counter() - started)
    requests = looking._watch.requests
    objects = len(repo.storage.objects.listing(""))
    print(
        f"\nS3 poll of 20 models x 5 versions ({objects} objects): {requests} request, "
        f"median {statistics.median(durations) * 1000:.1f} ms, max {max(durations) * 1000:.1f} ms"
    )
    assert requests == 1
