"""Each partition's answered-offsets map: what a commit carries, what an assignment reads.

A commit's offset is the partition's lowest unanswered record; the map in its metadata names the
answered records above it (`worker.consumer.answered_codec`), so the next owner skips them
instead of processing and answering them again. `propose` builds the position to commit from a
partition's `PartitionOffsets`: a map larger than the broker's `offset.metadata.max.bytes`
(`OffsetMapConfig.max_bytes`) is left out (today's behaviour: the records above the offset are
replayed) and reported as an overflow; a map past `PAUSE_SHARE` of it asks the loop to take no
new records from the partition until it shrinks (parallel-consumer's 75 %). `answered` reads a
committed position back: a map it cannot use is reported and ignored, never guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from worker.consumer.answered_codec import UnreadableMap, decode, encode
from worker.consumer.offsets import PartitionOffsets
from worker.consumer.ports import Position

log = structlog.get_logger("worker.consumer.offset_map")

#: Share of the metadata limit past which a partition takes no new records.
PAUSE_SHARE = 0.75


@dataclass(frozen=True)
class OffsetMapConfig:
    """Whether commits carry the map, and the broker's limit on a commit's metadata."""

    enabled: bool = True
    max_bytes: int = 4096

    @property
    def pause_bytes(self) -> int:
        return int(self.max_bytes * PAUSE_SHARE)


@dataclass(frozen=True)
class Proposal:
    """A position to commit; `map_bytes` is the encoded map's size even when it overflowed."""

    position: Position
    map_bytes: int
    overflow: bool


def propose(offsets: PartitionOffsets, config: OffsetMapConfig) -> Proposal | None:
    """What to commit for a partition now, or None when nothing was read yet."""
    offset = offsets.committable()
    if offset is None:
        return None
    if not config.enabled:
        return Proposal(Position(offset), 0, overflow=False)
    above = offsets.answered_above(offset)
    metadata = encode(offset, above) if above else ""
    if len(metadata) > config.max_bytes:
        return Proposal(Position(offset), len(metadata), overflow=True)
    return Proposal(Position(offset, metadata), len(metadata), overflow=False)


def answered(
    position: Position | None, config: OffsetMapConfig, on_unreadable: Callable[[str], None]
) -> tuple[int | None, frozenset[int]]:
    """What a committed position says was answered: every offset below its offset (None when
    nothing was committed), and the map's offsets above it (none when the map is off)."""
    if position is None:
        return None, frozenset()
    if not config.enabled:
        return position.offset, frozenset()
    try:
        return position.offset, decode(position.metadata, position.offset)
    except UnreadableMap as exc:
        log.warning("answered-offsets map ignored", reason=str(exc), offset=position.offset)
        on_unreadable(str(exc))
        return position.offset, frozenset()
