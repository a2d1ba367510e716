"""Helpers shared by the ECS client tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Serve = Callable[[web.Application], Awaitable[str]]


@dataclass
class RecordingObserver:
    """An ApiObserver that remembers what it was told."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    retries: list[tuple[str, str]] = field(default_factory=list)

    def api_call(self, endpoint: str, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.calls.append((endpoint, outcome))

    def api_retry(self, endpoint: str, reason: str) -> None:
        self.retries.append((endpoint, reason))
