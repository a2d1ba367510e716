"""Simulator-only counters behind ``GET /_sim/stats``: enough for a test to prove no duplicates.

Owns the counts: servers created per client token, accepted creates, replays, dry runs,
API requests by HTTP status, injected faults by kind, server deletions started (``deletes``)
and delete requests that named a server already being deleted (``deletes_repeated``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Running totals since the app started."""

    servers_by_token: Counter[str] = field(default_factory=Counter)
    servers_without_token: int = 0
    creates: int = 0
    replays: int = 0
    dry_runs: int = 0
    deletes: int = 0
    deletes_repeated: int = 0
    requests_by_status: Counter[str] = field(default_factory=Counter)
    requests_by_operation: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    metadata_credentials_issued: int = 0

    def created(self, token: str | None, servers: int) -> None:
        """An accepted non-dry-run create made ``servers`` servers."""
        self.creates += 1
        if token is None:
            self.servers_without_token += servers
        else:
            self.servers_by_token[token] += servers

    def as_json(
        self, jobs_by_status: dict[str, int], servers_by_status: dict[str, int]
    ) -> dict[str, object]:
        """The JSON body of ``GET /_sim/stats``."""
        return {
            "servers_by_token": dict(self.servers_by_token),
            "servers_without_token": self.servers_without_token,
            "servers_total": sum(self.servers_by_token.values()) + self.servers_without_token,
            "creates": self.creates,
            "replays": self.replays,
            "dry_runs": self.dry_runs,
            "requests_by_status": dict(self.requests_by_status),
            "requests_total": sum(self.requests_by_status.values()),
            "requests_by_operation": dict(self.requests_by_operation),
            "faults_injected": dict(self.faults_injected),
            "metadata_credentials_issued": self.metadata_credentials_issued,
            "jobs_by_status": jobs_by_status,
            "servers_by_status": servers_by_status,
            "deletes": self.deletes,
            "deletes_repeated": self.deletes_repeated,
        }
