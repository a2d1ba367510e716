"""Masking of secret fields in any copy of a request before it leaves the worker.

Owns `redact`, `SECRET_FIELDS` and `MASK`. Works on arbitrary JSON values (valid request or
not): every object key named like a secret field, at any depth, has its value replaced by
`"***"`, whatever that value was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SECRET_FIELDS = ("adminPass", "user_data")
"""Request fields that are always masked."""

MASK = "***"


def redact(request: Any, extra_fields: Iterable[str] = ()) -> Any:
    """A deep copy of `request` with the value of every secret key (at any depth) set to MASK."""
    secret = frozenset(SECRET_FIELDS).union(extra_fields)
    return _redact(request, secret)


def _redact(value: Any, secret: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: MASK if key in secret else _redact(item, secret) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item, secret) for item in value]
    return value
