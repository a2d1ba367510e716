"""Masking of secret fields in any copy of a request (or anything else) before it leaves the worker.

Owns `redact`, `is_secret_key`, `SECRET_FIELDS` and `MASK`. Works on arbitrary JSON values (valid
request or not): every object key that *means* a secret, at any depth, has its value replaced by
`"***"`, whatever that value was. A key means a secret by what it says, not by its exact
spelling: case and separators do not count (`adminPass`, `admin_pass`, `AdminPass`, `admin-pass`,
`adminpass`, `userData`, `user-data` …), a word like `pass`, `password`, `pwd` or `secret`
anywhere in it counts (`root_password`, `dbSecret`), and so does a near-miss of a secret field
(`adminPas`, `usrdata`: at most two letters off). Real fields such as `hw:passthrough` or
`key_name` are not secrets.
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
    {"pass", "password", "passwd", "passphrase", "pwd", "secret", "secrets", "credential"}
)
"""Whole words (split at separators and camelCase) that make a key secret."""
_SECRET_PARTS = (
    "adminpass",
    "userdata",
    "password",
    "passwd",
    "secret",
    "privatekey",
    "credential",
)
"""Substrings of the normalised key (lower case, letters and digits only) that make it secret."""
_NEAR_MISS_OF = ("adminpass", "userdata", "password")
"""A normalised key at most `_MAX_TYPOS` edits away from one of these is secret."""
_MAX_TYPOS = 2
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


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

    Cached: every log line and every request copy asks again for the same few keys, and one
    answer costs a regex pass and banded edit distances (~10 us per key uncached).
    """
    normal = _normalise(key)
    if not normal:
        return False
    if normal in extra or any(part in normal for part in _SECRET_PARTS):
        return True
    if any(word.lower() in _SECRET_WORDS for word in _WORD.findall(key)):
        return True
    return any(_within_typos(normal, target) for target in _NEAR_MISS_OF)


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
    return "".join(char for char in key.lower() if char.isalnum())


def _within_typos(word: str, target: str) -> bool:
    """Levenshtein distance of `word` and `target` is at most _MAX_TYPOS (banded, cheap)."""
    if abs(len(word) - len(target)) > _MAX_TYPOS:
        return False
    previous = list(range(len(target) + 1))
    for i, char in enumerate(word, 1):
        current = [i]
        for j, wanted in enumerate(target, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != wanted))
            )
        if min(current) > _MAX_TYPOS:
            return False
        previous = current
    return previous[-1] <= _MAX_TYPOS
