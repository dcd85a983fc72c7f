"""Locks on object storage: an object created only if absent is held by whoever created it.

S3 has no flock. A writer takes a lock by creating `<key>` with `If-None-Match: *`: exactly
one of several concurrent creators succeeds. It releases it by deleting the object, only if
its ETag is still the one it created (`If-Match`), so it never removes a lock another writer
took over. A writer that dies keeps its lock until it is `STALE_S` old by the store's own
clock (the object's Last-Modified against the Date of the store's answer, so no two
machines' clocks are compared); then a waiter takes it over with a conditional replace on
the stale ETag, which again only one waiter wins. Locked sections are a few requests long,
far below `STALE_S`; the documents written under a lock are also replaced on their ETag,
so even a writer whose lock was taken over cannot overwrite another's change.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator

from model_repo._objects import ObjectStore
from model_repo.errors import Conflict, RepositoryError

STALE_S = 30.0
WAIT_S = STALE_S + 15.0  # long enough to outlast a dead holder's lock
_FIRST_PAUSE_S = 0.02
_LONGEST_PAUSE_S = 0.5


@contextlib.contextmanager
def object_lock(store: ObjectStore, key: str, what: str) -> Iterator[None]:
    """Hold the lock object `key` (of `what`, for messages) for the block's duration."""
    etag = _acquire(store, key, what)
    try:
        yield
    finally:
        _release(store, key, etag)


def _release(store: ObjectStore, key: str, etag: str) -> None:
    """Delete the lock if it is still ours (not when it was taken over meanwhile)."""
    try:
        store.delete(key, etag)
    except RepositoryError:  # a store without conditional deletes: look, then delete
        held = store.stat(key)
        if held is not None and held.etag == etag:
            store.delete(key)


def _acquire(store: ObjectStore, key: str, what: str) -> str:
    body = json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex}
    ).encode()
    deadline = time.monotonic() + WAIT_S
    pause = _FIRST_PAUSE_S
    while True:
        etag = store.create(key, body)
        if etag is not None:
            return etag
        etag = _take_over_if_stale(store, key, body)
        if etag is not None:
            return etag
        if time.monotonic() > deadline:
            raise Conflict(
                f"{what} is locked by another writer ({store.where(key)}) and was not released "
                f"within {WAIT_S:.0f} s; try again"
            )
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE_S)


def _take_over_if_stale(store: ObjectStore, key: str, body: bytes) -> str | None:
    held = store.stat(key)
    if held is None:  # released between our create and this look: try again at once
        return store.create(key, body)
    if (held.now - held.modified).total_seconds() < STALE_S:
        return None
    return store.replace(key, body, held.etag)
