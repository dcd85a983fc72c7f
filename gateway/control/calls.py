"""How the control plane calls into `model_repo` and `converters`.

The one place where such a call is handed to a thread (blocking work: repository reads and
writes, loads, conversions must not stall the event loop) and where what they raise becomes
the gateway's own error (gateway.errors.translate).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from gateway.errors import translate
from model_repo.errors import ModelportError

T = TypeVar("T")


async def run_blocking(executor: Executor | None, func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in `executor` (None: a thread of the loop's default pool).

    A `ModelportError` comes back as its `GatewayError`; anything else is raised as it is,
    for the caller to decide.
    """
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(executor, func, *args)
    except ModelportError as exc:
        raise translate(exc) from exc


def run_pure(func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` right here, for checks and parsers that do no I/O (a name rule, a
    request body read as an alias target): its `ModelportError` as a `GatewayError`."""
    try:
        return func(*args)
    except ModelportError as exc:
        raise translate(exc) from None
