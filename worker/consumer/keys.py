"""Request keys in the consumer: per-key serialisation, and the one way a key is shown.

`KeyLocks`: requests with the same key on the same topic run strictly one after another, in
order. A key is a tenant's own: the same key on another tenant's topic is another request (its
token is another), so it never waits for it, and a team cannot stall another by holding a key.
Each key has a FIFO lock while any request of that key is held; tasks acquire it in dispatch
order (asyncio locks are fair), so the second request of a key starts only after the first one's
terminal event was published. Locks are dropped when no request of the key is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

#: Log lines and span attributes carry at most this much of a request key.
MAX_SHOWN_KEY_BYTES = 256


def key_for_logs(raw: bytes | None) -> str | None:
    """A key as log lines and spans show it: text (undecodable bytes replaced), cut to
    `MAX_SHOWN_KEY_BYTES`, with its size when it was longer."""
    if raw is None:
        return None
    text = raw[:MAX_SHOWN_KEY_BYTES].decode("utf-8", errors="replace")
    return text if len(raw) <= MAX_SHOWN_KEY_BYTES else f"{text}…({len(raw)} bytes)"


class KeyLocks:
    """A FIFO lock per (topic, key), created on demand and dropped when unused."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, bytes], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, topic: str, raw_key: bytes | None) -> AsyncIterator[None]:
        if not raw_key:  # keyless records never share anything
            yield
            return
        key = (topic, raw_key)
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
