"""The answered-offsets map as a commit's metadata string: encoding and decoding, versioned.

A partition's committed offset is its lowest unanswered record; the records above it that were
already answered ride along in the commit's metadata, so a restarted or new owner skips them
(`worker.consumer.offset_map`). The encoding follows confluent's parallel-consumer: two forms of
the same set, the smaller wins, and a zlib-compressed body once it passes
`COMPRESS_ABOVE_BYTES`.

Format, version 1: ``"ecsp:" + base64(VERSION, KIND, body)``, where KIND is `RUNS` or `BITS`
(with `COMPRESSED` or-ed in when the body is zlib data) and the body starts with the base offset
(the committed offset the map belongs to) as an unsigned LEB128 varint, then:
- RUNS: the lengths of alternating runs from the base, unanswered first (a first run of 0 means
  the base itself was answered), each a varint, up to the last answered offset;
- BITS: the number of bits as a varint, then one bit per offset from the base (least significant
  bit first), 1 = answered.

Metadata without the prefix (an older release's commit, another tool's) is no map at all; a map
with the prefix that cannot be used (another version, corrupt, another base) raises
`UnreadableMap`, and the caller replays as before. Decoding never trusts a size it reads: the
bit count and the inflated body are bounded by `MAX_DECODED_BYTES`.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable

PREFIX = "ecsp:"
VERSION = 1
RUNS = 1
BITS = 2
COMPRESSED = 0x80
#: Bodies longer than this are compressed when that makes them smaller (parallel-consumer's 200).
COMPRESS_ABOVE_BYTES = 200
#: Largest body a decoder inflates or a bitset may announce (1 MiB: 8 million offsets).
MAX_DECODED_BYTES = 1 << 20


class UnreadableMap(ValueError):
    """Metadata that names itself an answered-offsets map but cannot be used (the reason)."""


def encode(base: int, answered: Iterable[int]) -> str:
    """The metadata carrying `answered` (offsets at or above `base`; lower ones are dropped)."""
    offsets = sorted(o - base for o in set(answered) if o >= base)
    head = _varint(base)
    runs, bits = head + _runs(offsets), head + _bits(offsets)
    kind, body = (RUNS, runs) if len(runs) <= len(bits) else (BITS, bits)
    if len(body) > COMPRESS_ABOVE_BYTES:
        packed = zlib.compress(body, 9)
        if len(packed) < len(body):
            kind, body = kind | COMPRESSED, packed
    return PREFIX + base64.b64encode(bytes((VERSION, kind)) + body).decode("ascii")


def decode(metadata: str | None, base: int) -> frozenset[int]:
    """The answered offsets of the map in `metadata` committed at offset `base`.

    Empty for metadata that is not a map (no prefix); `UnreadableMap` for a map of another
    version, another base or that is corrupt.
    """
    if not metadata or not metadata.startswith(PREFIX):
        return frozenset()
    try:
        raw = base64.b64decode(metadata[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UnreadableMap("not base64") from exc
    if len(raw) < 2:
        raise UnreadableMap("too short")
    version, kind = raw[0], raw[1]
    if version != VERSION:
        raise UnreadableMap(f"version {version}")
    body = raw[2:]
    if kind & COMPRESSED:
        body = _inflate(body)
        kind &= ~COMPRESSED
    reader = _Reader(body)
    if reader.varint() != base:
        raise UnreadableMap("another base offset")
    if kind == RUNS:
        relative = _read_runs(reader)
    elif kind == BITS:
        relative = _read_bits(reader)
    else:
        raise UnreadableMap(f"kind {kind}")
    if not reader.at_end():
        raise UnreadableMap("trailing bytes")
    return frozenset(base + o for o in relative)


def _runs(offsets: list[int]) -> bytes:
    out = bytearray()
    position = 0  # next relative offset not yet described
    i = 0
    while i < len(offsets):
        start = offsets[i]
        end = start
        while i + 1 < len(offsets) and offsets[i + 1] == end + 1:
            i += 1
            end += 1
        out += _varint(start - position) + _varint(end - start + 1)
        position = end + 1
        i += 1
    return bytes(out)


def _bits(offsets: list[int]) -> bytes:
    count = offsets[-1] + 1 if offsets else 0
    field = bytearray((count + 7) // 8)
    for o in offsets:
        field[o >> 3] |= 1 << (o & 7)
    return _varint(count) + bytes(field)


def _read_runs(reader: _Reader) -> list[int]:
    offsets: list[int] = []
    position = 0
    while not reader.at_end():
        position += reader.varint()
        length = reader.varint()
        if length == 0 or len(offsets) + length > 8 * MAX_DECODED_BYTES:
            raise UnreadableMap("bad run")
        offsets.extend(range(position, position + length))
        position += length
    return offsets


def _read_bits(reader: _Reader) -> list[int]:
    count = reader.varint()
    if count > 8 * MAX_DECODED_BYTES:
        raise UnreadableMap("too many bits")
    field = reader.take((count + 7) // 8)
    return [o for o in range(count) if field[o >> 3] >> (o & 7) & 1]


def _inflate(body: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(body, MAX_DECODED_BYTES)
    except zlib.error as exc:
        raise UnreadableMap("bad zlib data") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise UnreadableMap("zlib data too long or cut")
    return out


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def at_end(self) -> bool:
        return self._at == len(self._data)

    def take(self, count: int) -> bytes:
        if self._at + count > len(self._data):
            raise UnreadableMap("cut short")
        chunk = self._data[self._at : self._at + count]
        self._at += count
        return chunk

    def varint(self) -> int:
        value = shift = 0
        while True:
            if self.at_end() or shift > 63:
                raise UnreadableMap("bad varint")
            byte = self._data[self._at]
            self._at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value
