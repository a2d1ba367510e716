"""The near-miss rule of redaction, at its edges: exactly two letters off is a secret, three is not.

`_within_typos` is a bounded Levenshtein check (common ends cut, at most two edits tried); it must
agree with the plain textbook distance on every word, which property tests compare it with, for
words made from the targets and for any two short words at any bound. `is_secret_key` skips the
check for a key holding no intact piece of a target, which must never change its answer.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecsp_contract import redaction
from ecsp_contract.redaction import (
    _MAX_TYPOS,
    _NEAR_MISS_OF,
    _NEAR_MISS_PIECES,
    _within_typos,
    is_secret_key,
)


def levenshtein(a: str, b: str) -> int:
    """The textbook dynamic programme, no shortcuts."""
    rows = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            rows[i][j] = min(
                rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
    return rows[-1][-1]


@st.composite
def near(draw: st.DrawFn) -> tuple[str, str]:
    """A target and a word made from it by up to four random edits (letters of the targets)."""
    target = draw(st.sampled_from(_NEAR_MISS_OF))
    word = list(target)
    letters = st.sampled_from(sorted(set("".join(_NEAR_MISS_OF)) | {"x", "z"}))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        at = draw(st.integers(0, max(0, len(word) - 1)))
        if kind == "insert":
            word.insert(at, draw(letters))
        elif word and kind == "delete":
            del word[at]
        elif word:
            word[at] = draw(letters)
    return "".join(word), target


@given(near())
def test_the_banded_check_agrees_with_the_textbook_distance(pair: tuple[str, str]) -> None:
    word, target = pair
    assert _within_typos(word, target) == (levenshtein(word, target) <= _MAX_TYPOS)


@given(st.text("abcd", max_size=9), st.text("abcd", max_size=9), st.integers(0, 3))
def test_any_two_words_at_any_bound_agree_with_the_textbook_distance(
    word: str, target: str, typos: int
) -> None:
    assert _within_typos(word, target, typos) == (levenshtein(word, target) <= typos)


def test_each_target_is_cut_into_one_piece_more_than_the_typos_allowed() -> None:
    assert [target for target, _ in _NEAR_MISS_PIECES] == list(_NEAR_MISS_OF)
    for target, pieces in _NEAR_MISS_PIECES:
        assert "".join(pieces) == target
        assert len(pieces) == _MAX_TYPOS + 1
        assert all(pieces)


@given(near())
def test_the_piece_filter_never_changes_whether_a_key_is_secret(pair: tuple[str, str]) -> None:
    word, _ = pair
    unfiltered = any(levenshtein(word, target) <= _MAX_TYPOS for target in _NEAR_MISS_OF)
    if unfiltered:
        assert is_secret_key(word)


def test_made_up_keys_without_a_piece_of_a_target_skip_the_edit_distance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """10,000 distinct 8-letter keys (the shape of a 48 s stall), none holding a piece of a
    target (their letters are f, h, j ... x, q, z, y): no edit distance is computed."""
    calls: list[str] = []

    def counting(word: str, target: str) -> bool:
        calls.append(word)
        return _within_typos(word, target)

    monkeypatch.setattr(redaction, "_within_typos", counting)
    keys = ["".join(chr(ord("f") + 2 * int(d)) for d in f"{i:05d}") + "qzy" for i in range(10_000)]
    assert len(set(keys)) == 10_000
    redaction.redact(dict.fromkeys(keys, 1))
    assert calls == []


@pytest.mark.parametrize(
    ("word", "target", "within"),
    [
        ("adminpass", "adminpass", True),
        ("adminpa", "adminpass", True),  # two letters missing at the end
        ("admipas", "adminpass", True),
        ("xxadminpass", "adminpass", True),  # two letters more at the start
        ("admnpas", "adminpass", True),
        ("adminp", "adminpass", False),  # three missing: the length alone rules it out
        ("xdmxnpaxs", "adminpass", False),  # three replaced, same length
        ("ydminpazzz", "adminpass", False),
    ],
)
def test_two_edits_are_a_near_miss_three_are_not(word: str, target: str, within: bool) -> None:
    assert _within_typos(word, target) is within


@pytest.mark.parametrize("key", ["usrDta", "admnPas", "pasword1"])
def test_keys_two_letters_off_a_secret_field_are_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["", "--", "_.:", "adm", "userd"])
def test_keys_without_letters_or_too_far_off_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)
