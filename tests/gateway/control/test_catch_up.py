"""A request naming a release revision the server has not polled yet (another replica on the
same repository switched to it): the releases are re-read once, shared by every such request
at that moment, and the request is served at that revision or refused if it does not exist."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import Conflict
from gateway.serving.dataplane import RouteHints
from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.gateway.conftest import Pools
from tests.gateway.control.test_control_plane import plane_on


def test_concurrent_requests_ahead_of_the_board_share_one_re_read(
    tmp_path: Path, pools: Pools
) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "m", 1.0)
    publish_tiny(repo, "m", 2.0)
    repo.releases.set("r", {"m": 1})
    control = plane_on(repo, pools)  # the poll is off: only a request makes it read again
    reads: list[int] = []
    real_sync = control.switch.sync

    async def counted_sync(retry: bool = False) -> Any:
        reads.append(1)
        return await real_sync(retry)

    control.switch.sync = counted_sync  # type: ignore[method-assign]

    async def version_at(revision: str) -> int:
        hints = RouteHints(release="r", revision=revision)
        with await control.data._pinned_lease("m", None, hints) as served:
            return served.version

    async def scenario() -> None:
        await control.start()
        reads.clear()
        newer = repo.releases.set("r", {"m": 2})  # written elsewhere, not polled here
        assert control.manager.table.releases.current["r"].revision == newer.revision - 1
        versions = await asyncio.gather(*(version_at(str(newer.revision)) for _ in range(10)))
        assert versions == [2] * 10 and len(reads) == 1
        assert await version_at(str(newer.revision - 1)) == 1  # the replaced one, in its grace
        with pytest.raises(Conflict, match=f"has no revision {newer.revision + 5} "):
            await version_at(str(newer.revision + 5))
        assert len(reads) == 2  # looked once more, then refused
        await control.stop()

    asyncio.run(scenario())
