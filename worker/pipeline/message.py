"""The pipeline's view of one Kafka record: what the consumer hands over, nothing Kafka-specific."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from ecsp_contract.events import KafkaOrigin


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A request record as fetched: raw key and value, headers, and where it came from.

    A message is processed once: the pipeline releases its value once the request is submitted
    (`release_value`); a redelivered record arrives as a new message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None

    def release_value(self) -> None:
        """Drops the raw value: once a request is submitted its job may be followed for hours,
        and nothing needs the record's bytes for that (~1 KB each for the reference's example).
        The one change a message allows; messages are not hashed or compared after it."""
        object.__setattr__(self, "value", None)

    @property
    def origin(self) -> KafkaOrigin:
        return KafkaOrigin(topic=self.topic, partition=self.partition, offset=self.offset)

    @property
    def received_at(self) -> datetime:
        """The broker's timestamp of the record (stable across redeliveries), else now.

        A producer may set any timestamp; one a datetime cannot hold (before 1970, after 9999)
        counts as missing.
        """
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return datetime.now(UTC)
        try:
            return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return datetime.now(UTC)

    def age_seconds(self) -> float | None:
        """How long ago the broker stamped the record; None without a timestamp."""
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return None
        return time.time() - self.timestamp_ms / 1000

    def header(self, name: str) -> str | None:
        """The last value of a header as text (case-insensitive name), or None."""
        wanted = name.lower()
        found: str | None = None
        for key, value in self.headers:
            if key.lower() == wanted and value is not None:
                found = value.decode("utf-8", errors="replace").strip()
        return found
