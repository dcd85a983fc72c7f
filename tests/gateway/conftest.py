from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

Pools = tuple[ThreadPoolExecutor, ThreadPoolExecutor]  # admin, inference


@pytest.fixture
def pools() -> Iterator[Pools]:
    """The manager's admin thread and an inference pool, shut down after the test."""
    admin, inference = ThreadPoolExecutor(1), ThreadPoolExecutor(2)
    yield admin, inference
    admin.shutdown()
    inference.shutdown()
