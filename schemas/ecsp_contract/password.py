"""The API's rules for `adminPass` and the `$NAME` secret-reference syntax.

Owns: `admin_password_problems` (used for literal passwords during validation, and by the worker
after it resolves a reference), `secret_reference_name` (recognises `$NAME`) and
`literal_password` (the literal a value stands for: `$$NAME` is the escape for a literal `$NAME`).
Messages never contain the password itself.
"""

from __future__ import annotations

import re

PASSWORD_SPECIALS = "!@$%^-_=+[{}]:,./?"  # noqa: S105 - a character set
"""Special characters the API accepts in `adminPass`."""

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 26
FORBIDDEN_PASSWORD_WORDS = ("root", "administrator")
"""The administrator user names (Linux, Windows); neither they nor their reverse may appear."""

SECRET_REFERENCE_PATTERN = r"^\$[A-Za-z_][A-Za-z0-9_]*$"  # noqa: S105 - a pattern
"""`$NAME`: a secret the worker resolves just before the API call (docs/contract.md, Secrets)."""
ESCAPED_LITERAL_PATTERN = r"^\$\$[A-Za-z_][A-Za-z0-9_]*$"
"""`$$NAME`: the literal password `$NAME` (the escape for a literal that looks like a reference)."""
ESCAPE_HINT = "a literal password that starts with $ and looks like $NAME is written $$NAME"

_REFERENCE = re.compile(SECRET_REFERENCE_PATTERN)
_ESCAPED = re.compile(ESCAPED_LITERAL_PATTERN)


def secret_reference_name(value: str) -> str | None:
    """Return NAME when `value` is a `$NAME` reference, else None (the value is a literal)."""
    if _REFERENCE.fullmatch(value):
        return value[1:]
    return None


def literal_password(value: str) -> str | None:
    """The literal password `value` stands for (`$$NAME` -> `$NAME`), or None for a reference.

    Only reference-shaped values need the escape; any other value is the literal as written,
    so every literal that did not look like a reference means what it always meant.
    """
    if _REFERENCE.fullmatch(value):
        return None
    if _ESCAPED.fullmatch(value):
        return value[1:]
    return value


def admin_password_problems(password: str) -> list[str]:
    """List every password rule of the API that `password` breaks (empty list: acceptable).

    Rules: 8-26 characters; only letters, digits and `!@$%^-_=+[{}]:,./?`; at least three of
    the four classes upper case, lower case, digit, special; must not contain `root` or
    `administrator` or either spelled backwards (compared case-insensitively).
    """
    problems: list[str] = []
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        # not how long it is: failed events reach other teams, and a length narrows a guess
        problems.append(f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")
    if any(not _allowed(char) for char in password):
        problems.append(f"may contain only letters, digits and {PASSWORD_SPECIALS}")
    classes = (
        any(char.isascii() and char.isupper() for char in password),
        any(char.isascii() and char.islower() for char in password),
        any(char.isascii() and char.isdigit() for char in password),
        any(char in PASSWORD_SPECIALS for char in password),
    )
    if sum(classes) < 3:
        problems.append(
            "must contain at least three of: upper-case letter, lower-case letter, digit, "
            f"special character ({PASSWORD_SPECIALS})"
        )
    lowered = password.lower()
    for word in FORBIDDEN_PASSWORD_WORDS:
        if word in lowered or word[::-1] in lowered:
            problems.append(f'must not contain "{word}" or "{word[::-1]}"')
    return problems


def _allowed(char: str) -> bool:
    return (char.isascii() and char.isalnum()) or char in PASSWORD_SPECIALS
