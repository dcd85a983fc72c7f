from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.s3 import MotoS3, moto_s3


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    """One moto S3 server per test session (per xdist worker); each test takes its bucket."""
    pytest.importorskip("moto.server", reason="needs moto[server] (the dev extra)")
    with moto_s3(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture
def s3_root(moto: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A fresh `s3://bucket/repo` on the moto server; boto3 here and in child processes finds
    it through the environment, and local copies of versions go to this test's cache."""
    for key, value in moto.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MODELPORT_CACHE_DIR", str(tmp_path / "cache"))
    return moto.new_root()
