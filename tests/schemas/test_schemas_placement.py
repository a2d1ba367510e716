"""The `ecs-fallbacks` header: every form it allows, everything it refuses, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsp_contract.placement import (
    MAX_FALLBACKS,
    MAX_FALLBACKS_HEADER_BYTES,
    Fallback,
    InvalidFallbacks,
    parse_fallbacks,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("c7.large.2@cn-north-4b", [("c7.large.2", "cn-north-4b")]),
        ("c7.large.2", [("c7.large.2", None)]),
        ("@cn-north-4c", [(None, "cn-north-4c")]),
        (
            "s6.small.1@az2, c7n.2xlarge.4 ,\t@az3",
            [("s6.small.1", "az2"), ("c7n.2xlarge.4", None), (None, "az3")],
        ),
        # every visible ASCII character but , and @ belongs to a name (the API decides)
        ("a!#$%&'()*+-./:;<=>?[\\]^_`{|}~9@Z", [("a!#$%&'()*+-./:;<=>?[\\]^_`{|}~9", "Z")]),
        # repeats are the builder's to drop, not an error
        ("x@a,x@a", [("x", "a"), ("x", "a")]),
    ],
)
def test_the_three_forms_in_order(header: str, expected: list[tuple[str | None, ...]]) -> None:
    assert parse_fallbacks(header) == tuple(Fallback(*names) for names in expected)


@pytest.mark.parametrize("header", [None, "", "   ", " \t "])
def test_no_header_or_a_blank_one_names_no_alternative(header: str | None) -> None:
    assert parse_fallbacks(header) == ()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("a,,b", "alternative 2 is empty"),
        ("a,", "alternative 2 is empty"),
        (",a", "alternative 1 is empty"),
        ("a, ,b", "alternative 2 is empty"),
        ("@", "alternative 1 is not FLAVOR@ZONE"),
        ("c7.large.2@", "alternative 1 is not FLAVOR@ZONE"),
        ("a@b@c", "alternative 1 is not FLAVOR@ZONE"),
        ("@@z", "alternative 1 is not FLAVOR@ZONE"),
        ("ok,c7 large", "alternative 2 is not FLAVOR@ZONE"),
        ("ok,ok,c7\x00", "alternative 3 is not FLAVOR@ZONE"),
        ("c7\n@z", "alternative 1 is not FLAVOR@ZONE"),
        ("c7@z\x7f", "alternative 1 is not FLAVOR@ZONE"),
        ("c7.large.2@zoné", "alternative 1 is not FLAVOR@ZONE"),
        ("c7\ufffd", "alternative 1 is not FLAVOR@ZONE"),  # what a non-UTF-8 header decodes to
        (",".join(["a"] * (MAX_FALLBACKS + 1)), f"11 alternatives, more than {MAX_FALLBACKS}"),
        (",,,,,,,,,,,", "12 alternatives"),
    ],
)
def test_what_is_refused_and_the_message_names_the_item(header: str, message: str) -> None:
    with pytest.raises(InvalidFallbacks, match=message):
        parse_fallbacks(header)


def test_ten_alternatives_are_allowed() -> None:
    assert len(parse_fallbacks(",".join(f"f{i}@z{i}" for i in range(MAX_FALLBACKS)))) == 10


def test_a_huge_header_is_refused_by_its_size_before_it_is_split() -> None:
    limit = "a" * MAX_FALLBACKS_HEADER_BYTES
    assert parse_fallbacks(limit) == (Fallback(limit, None),)
    with pytest.raises(InvalidFallbacks, match=f"longer than {MAX_FALLBACKS_HEADER_BYTES} bytes"):
        parse_fallbacks(limit + "a")
    with pytest.raises(InvalidFallbacks, match="bytes"):
        parse_fallbacks("," * 10_000_000)
    with pytest.raises(InvalidFallbacks, match="bytes"):  # counted in UTF-8 bytes, not characters
        parse_fallbacks("é" * (MAX_FALLBACKS_HEADER_BYTES // 2 + 1))


def test_a_message_never_echoes_the_header() -> None:
    secretish = "Sup3r$ecret!Passw0rd"
    with pytest.raises(InvalidFallbacks) as raised:
        parse_fallbacks(f"ok,{secretish} x")
    assert secretish not in str(raised.value)


def test_a_fallback_prints_as_written() -> None:
    assert [str(f) for f in parse_fallbacks("a@b,a,@b")] == ["a@b", "a", "@b"]


@given(st.text(max_size=300))
def test_any_text_parses_to_valid_alternatives_or_is_refused_with_a_reason(text: str) -> None:
    try:
        parsed = parse_fallbacks(text)
    except InvalidFallbacks:
        return
    assert len(parsed) <= MAX_FALLBACKS
    for fallback in parsed:
        assert fallback.flavor_ref is not None or fallback.availability_zone is not None
        for name in (fallback.flavor_ref, fallback.availability_zone):
            assert name is None or (name and all("!" <= c <= "~" and c not in ",@" for c in name))
    assert parse_fallbacks(",".join(str(f) for f in parsed)) == parsed
