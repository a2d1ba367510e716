"""The answered-offsets map's encoding: lossless, the smaller form, compressed when long,
versioned, and decoded only when it is certainly this version's map of this base offset."""

from __future__ import annotations

import base64
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.consumer.answered_codec import (
    BITS,
    COMPRESSED,
    PREFIX,
    RUNS,
    UnreadableMap,
    decode,
    encode,
)

BASES = st.integers(0, 2**62)
RELATIVE = st.sets(st.integers(0, 5000), max_size=400)


def header(metadata: str) -> tuple[int, int]:
    raw = base64.b64decode(metadata[len(PREFIX) :])
    return raw[0], raw[1]


@given(base=BASES, relative=RELATIVE)
def test_what_is_encoded_is_decoded(base: int, relative: set[int]) -> None:
    answered = {base + o for o in relative}
    assert decode(encode(base, answered), base) == answered


def test_offsets_below_the_base_are_left_out() -> None:
    assert decode(encode(100, [98, 99, 100, 103]), 100) == {100, 103}


def test_the_golden_bytes_of_version_1() -> None:
    """Pinned: a worker of the next release must read what this one committed.
    01 01 e807 02 62: version 1, runs, base 1000, 2 unanswered then 98 answered;
    01 02 e807 0b 1c04: version 1, bits, base 1000, 11 bits, offsets +2 +3 +4 and +10."""
    assert encode(1000, range(1002, 1100)) == "ecsp:AQHoBwJi"
    assert encode(1000, [1002, 1003, 1004, 1010]) == "ecsp:AQLoBwscBA=="
    assert encode(7, []) == "ecsp:AQEH"


def test_few_long_runs_are_written_as_runs() -> None:
    metadata = encode(0, range(1, 3000))
    assert header(metadata) == (1, RUNS)
    assert len(metadata) < 20


def test_scattered_offsets_are_written_as_bits() -> None:
    metadata = encode(0, range(1, 600, 2))
    assert header(metadata)[1] & ~COMPRESSED == BITS


def test_a_body_past_200_bytes_is_compressed_when_that_is_smaller() -> None:
    metadata = encode(0, range(1, 4000, 2))  # 2000 bytes of 0b10101010 as bits
    version, kind = header(metadata)
    assert (version, kind) == (1, BITS | COMPRESSED)
    assert len(metadata) < 100
    assert decode(metadata, 0) == set(range(1, 4000, 2))


@pytest.mark.parametrize("metadata", ["", None, "some other tool's metadata", "ECSP:AQEH"])
def test_metadata_that_is_not_a_map_names_nothing(metadata: str | None) -> None:
    assert decode(metadata, 7) == frozenset()


def test_a_map_of_another_version_is_unreadable() -> None:
    raw = base64.b64decode(encode(5, [6, 7])[len(PREFIX) :])
    other = PREFIX + base64.b64encode(bytes([2]) + raw[1:]).decode()
    with pytest.raises(UnreadableMap, match="version 2"):
        decode(other, 5)


def test_a_map_of_another_base_offset_is_unreadable() -> None:
    """After an offset reset the metadata may no longer belong to the committed offset."""
    with pytest.raises(UnreadableMap, match="another base"):
        decode(encode(5, [6, 7]), 6)


@pytest.mark.parametrize(
    "body",
    [
        b"\x01",  # no kind
        b"\x01\x09\x05",  # unknown kind
        b"\x01\x01\x05\x00\x00",  # a run of length 0
        b"\x01\x01\x05\x01",  # a gap without its run
        b"\x01\x02\x05\x10\xff",  # 16 bits announced, 8 given
        b"\x01\x01\x85",  # varint cut
        b"\x01\x81" + zlib.compress(b"\x05\x01\x01")[:-2],  # zlib cut
        b"\x01\x02\x05\xff\xff\xff\xff\x0f",  # a bitset larger than any map
    ],
)
def test_corrupt_maps_are_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadableMap):
        decode(PREFIX + base64.b64encode(body).decode(), 5)


def test_a_compressed_body_is_not_inflated_past_the_bound() -> None:
    bomb = zlib.compress(b"\x05\x02" + b"\x00" * (2 << 20))
    with pytest.raises(UnreadableMap):
        decode(PREFIX + base64.b64encode(b"\x01\x81" + bomb).decode(), 5)


@given(st.binary(max_size=64))
def test_any_bytes_after_the_prefix_decode_or_are_unreadable(body: bytes) -> None:
    metadata = PREFIX + base64.b64encode(body).decode()
    try:
        decoded = decode(metadata, 5)
    except UnreadableMap:
        return
    assert all(o >= 5 for o in decoded)
