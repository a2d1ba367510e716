"""The policy in force: read at start, re-read when the file changes, last good kept on error.

Kubernetes updates a mounted ConfigMap by swapping a symlink, so the file's bytes are compared,
not its mtime. A change that does not parse (or names a tenant the worker does not serve) keeps
the policy in force, is logged once per
distinct content and reported to the observer (`policy_loaded(valid=False)`); the next valid
content replaces it. The watcher outlives any exception a reload raises (logged and reported
the same way at every attempt). No file configured means an empty policy: every rule absent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from pathlib import Path
from typing import Protocol

import structlog

from worker.policy.load import PolicyFileError, parse_policy, read_policy
from worker.policy.model import PolicyDocument

log = structlog.get_logger("worker.policy")


class PolicyObserver(Protocol):
    def policy_loaded(self, valid: bool) -> None: ...


class PolicySource:
    """Holds the current policy; `watch()` keeps it in step with the file."""

    def __init__(
        self,
        path: Path | None,
        observer: PolicyObserver | None = None,
        tenants: Collection[str] | None = None,
    ) -> None:
        self._path = path
        self._observer = observer
        self._tenants = tenants
        self._policy = PolicyDocument()
        self._seen: bytes | None = None

    @classmethod
    def open(
        cls,
        path: Path | None,
        observer: PolicyObserver | None = None,
        tenants: Collection[str] | None = None,
    ) -> PolicySource:
        """Reads the file once; PolicyFileError if it is invalid (the worker must not start).

        `tenants`: the names of the tenants the worker serves (its `tenants:` may name no other).
        """
        source = cls(path, observer, tenants)
        if path is not None:
            source._seen, source._policy = read_policy(path, tenants)
            log.info("policy loaded", path=str(path), projects=len(source._policy.projects))
            source._report(valid=True)
        return source

    def current(self) -> PolicyDocument:
        return self._policy

    async def watch(self, interval: float) -> None:
        """Re-reads the file every `interval` seconds until cancelled, whatever a reload raises:
        a failed reload keeps the policy in force and says so (log line, `valid=False`)."""
        if self._path is None:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload()
            except Exception as exc:  # a dead watcher would keep the last policy for good
                log.error(
                    "policy reload failed; keeping the last good policy",
                    path=str(self._path),
                    error=type(exc).__name__,
                )
                self._report(valid=False)

    async def reload(self) -> bool:
        """Re-reads the file; True when a new valid policy is now in force."""
        if self._path is None:
            return False
        try:
            raw = await asyncio.to_thread(self._path.read_bytes)
        except OSError as exc:
            return self._rejected(b"", [f"cannot read it: {exc.strerror}"])
        if raw == self._seen:
            return False
        try:
            policy = parse_policy(raw, source=str(self._path), tenants=self._tenants)
        except PolicyFileError as exc:
            return self._rejected(raw, exc.problems)
        self._seen, self._policy = raw, policy
        log.info("policy reloaded", path=str(self._path), projects=len(policy.projects))
        self._report(valid=True)
        return True

    def _rejected(self, raw: bytes, problems: list[str]) -> bool:
        if raw != self._seen:
            self._seen = raw
            log.warning(
                "policy file invalid; keeping the last good policy",
                path=str(self._path),
                problems=problems,
            )
            self._report(valid=False)
        return False

    def _report(self, *, valid: bool) -> None:
        if self._observer is not None:
            self._observer.policy_loaded(valid)
