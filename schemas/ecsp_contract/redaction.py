"""Masking of secret fields in any copy of a request (or anything else) before it leaves the worker.

Owns `redact`, `is_secret_key`, `SECRET_FIELDS` and `MASK`. Works on arbitrary JSON values (valid
request or not): every object key that *means* a secret, at any depth, has its value replaced by
`"***"`, whatever that value was. A key means a secret by what it says, not by its exact
spelling: case and separators do not count (`adminPass`, `admin_pass`, `AdminPass`, `admin-pass`,
`adminpass`, `userData`, `user-data` …), a word like `pass`, `password`, `pwd` or `secret`
anywhere in it counts (`root_password`, `dbSecret`, `admin_pw`, `rootPw`, `pswd`, `passcode`,
`auth_token`), as does `api_key`/`apikey` or `private_key` in any spelling, and so does a
near-miss of a secret field (`adminPas`, `usrdata`: at most two letters off). Real fields such as
`hw:passthrough` or `key_name` are not secrets, and neither is the idempotency token
`client_token` (derived from the request key, in every event and log line to identify it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

SECRET_FIELDS = ("adminPass", "user_data")
"""Request fields that are always masked (and everything spelled like them)."""

MASK = "***"

_SECRET_WORDS = frozenset(
    {
        "pass",
        "password",
        "passwd",
        "passphrase",
        "passcode",
        "pwd",
        "pw",
        "pswd",
        "secret",
        "secrets",
        "credential",
        "token",
        "tokens",
    }
)
"""Whole words (split at separators and camelCase) that make a key secret."""
_SECRET_PARTS = (
    "adminpass",
    "userdata",
    "password",
    "passwd",
    "secret",
    "privatekey",
    "apikey",
    "credential",
)
"""Substrings of the normalised key (lower case, letters and digits only) that make it secret."""
_NOT_SECRET = frozenset({"clienttoken", "xclienttoken"})
"""Normalised keys that are never secret: the idempotency token (`X-Client-Token`), derived from
the request key and carried by every event as `client_token`."""
_NEAR_MISS_OF = ("adminpass", "userdata", "password")
"""A normalised key at most `_MAX_TYPOS` edits away from one of these is secret."""
_MAX_TYPOS = 2
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


_SECRET_PART = re.compile("|".join(_SECRET_PARTS))
_NEAR_MISS_PIECES = (
    ("adminpass", ("adm", "inp", "ass")),
    ("userdata", ("use", "rda", "ta")),
    ("password", ("pas", "swo", "rd")),
)
"""Each near-miss target cut into _MAX_TYPOS + 1 pieces: a word within _MAX_TYPOS edits of it
keeps at least one piece intact (each edit touches at most one piece), so a word holding none
of them needs no edit distance (the pigeonhole filter of approximate matching)."""
_PIECE_FINDERS = tuple(
    (target, re.compile("|".join(pieces))) for target, pieces in _NEAR_MISS_PIECES
)


def redact(request: Any, extra_fields: Iterable[str] = ()) -> Any:
    """A deep copy of `request` with the value of every secret key (at any depth) set to MASK.

    `extra_fields` are more keys to mask, matched like the built-in ones (case and separators
    do not count).
    """
    extra = frozenset(_normalise(field) for field in extra_fields)
    return _redact(request, extra)


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether an object key means a secret (see the module doc); `extra` are normalised keys.

    Cached: every log line and every request copy asks again for the same few keys. A key not
    seen before costs a regex pass (~2 us); the edit distance runs only for a key that contains
    an intact piece of a target (`_NEAR_MISS_PIECES`), so 10,000 distinct made-up keys stay
    cheap.
    """
    normal = _normalise(key)
    if not normal or (normal in _NOT_SECRET and normal not in extra):
        return False
    if normal in extra or _SECRET_PART.search(normal):
        return True
    if any(word.lower() in _SECRET_WORDS for word in _WORD.findall(key)):
        return True
    return any(
        _within_typos(normal, target) for target, pieces in _PIECE_FINDERS if pieces.search(normal)
    )


_CONTAINERS = (dict, list, tuple)


def _redact(value: Any, extra: frozenset[str]) -> Any:
    """Copies containers and masks secret keys; scalars are shared, not visited one by one."""
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key, extra):
                copy[key] = MASK
            else:
                copy[key] = _redact(item, extra) if isinstance(item, _CONTAINERS) else item
        return copy
    if isinstance(value, list | tuple):
        return [_redact(item, extra) if isinstance(item, _CONTAINERS) else item for item in value]
    return value


def _normalise(key: str) -> str:
    return "".join(filter(str.isalnum, key.lower()))


def _within_typos(word: str, target: str, typos: int = _MAX_TYPOS) -> bool:
    """Levenshtein distance of `word` and `target` is at most `typos`: common ends never need
    an edit, so they are cut; what is left is within reach if one side is gone (the length check
    bounds the other), one edit apart only if both are a single letter, and otherwise needs an
    edit of its first letters (one replaced, or one of them dropped), tried with one typo less.
    Four short calls at most for two typos."""
    if abs(len(word) - len(target)) > typos:
        return False
    start, shortest = 0, min(len(word), len(target))
    while start < shortest and word[start] == target[start]:
        start += 1
    end_word, end_target = len(word), len(target)
    while end_word > start and end_target > start and word[end_word - 1] == target[end_target - 1]:
        end_word -= 1
        end_target -= 1
    word, target = word[start:end_word], target[start:end_target]
    if not word or not target:
        return True
    if typos == 1:
        return len(word) == 1 and len(target) == 1
    return (
        _within_typos(word[1:], target[1:], typos - 1)
        or _within_typos(word[1:], target, typos - 1)
        or _within_typos(word, target[1:], typos - 1)
    )
