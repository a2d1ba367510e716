"""The publisher's placement alternatives: the `ecs-fallbacks` request header and its syntax.

Owns `FALLBACKS_HEADER`, its bounds and `parse_fallbacks`, the one reading of the header that
`publish`, the worker and anyone else share. The header is a comma list of at most
`MAX_FALLBACKS` alternatives, tried in order after the body's own placement:

- `FLAVOR@ZONE`: another flavor in another availability zone;
- `FLAVOR`: another flavor, the body's zone (or none, as in the body);
- `@ZONE`: the body's flavor in another zone.

A flavor or zone is one or more visible ASCII characters other than `,` and `@`: the body's
`flavorRef` and `availability_zone` have no format of their own (`ecsp_contract.constraints`:
any non-empty string, any string), and every flavor and zone the API documents (`s6.small.1`,
`c7n.2xlarge.4`, `cn-north-4a`, `az1-dc1`) is of that form. Spaces and tabs around an item are
ignored. An absent, empty or blank header names no alternative. Refused, with the item's
position but never its text (a hostile header is not echoed into events or logs): an empty item
(`a,,b`, a trailing comma), `@` alone, `FLAVOR@` without a zone, a second `@`, a space, control or
non-ASCII character inside an item, more than `MAX_FALLBACKS` items, a header over
`MAX_FALLBACKS_HEADER_BYTES`. Repeated alternatives are not an error: whoever builds the
alternatives keeps the first and drops the repeats (also one that names the body's own
placement), since trying a placement twice can only be answered the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FALLBACKS_HEADER = "ecs-fallbacks"
MAX_FALLBACKS = 10
"""Alternatives a header may name, as Huawei Auto Scaling allows flavors per scaling group."""
MAX_FALLBACKS_HEADER_BYTES = 4096
"""Longest header accepted: ten alternatives of generous 200-byte flavor and zone names fit."""

_ID = r"[!-+\--?A-~]+"  # visible ASCII (0x21-0x7e) except "," (0x2c) and "@" (0x40)
_ITEM = re.compile(rf"(?P<flavor>{_ID})?(?:@(?P<zone>{_ID}))?")
_BLANKS = " \t"


@dataclass(frozen=True, slots=True)
class Fallback:
    """One alternative as written: None keeps the body's own flavor or zone."""

    flavor_ref: str | None
    availability_zone: str | None

    def __str__(self) -> str:
        flavor = self.flavor_ref or ""
        return flavor if self.availability_zone is None else f"{flavor}@{self.availability_zone}"


class InvalidFallbacks(ValueError):
    """The header breaks the syntax; the message names the item (1-based), not its text."""


def parse_fallbacks(value: str | None) -> tuple[Fallback, ...]:
    """The alternatives the header names, in order; InvalidFallbacks when it breaks the syntax."""
    if value is None:
        return ()
    if len(value.encode("utf-8", errors="surrogatepass")) > MAX_FALLBACKS_HEADER_BYTES:
        raise InvalidFallbacks(f"longer than {MAX_FALLBACKS_HEADER_BYTES} bytes")
    if not value.strip(_BLANKS):
        return ()
    items = value.split(",")
    if len(items) > MAX_FALLBACKS:
        raise InvalidFallbacks(f"{len(items)} alternatives, more than {MAX_FALLBACKS}")
    return tuple(_fallback(number, item.strip(_BLANKS)) for number, item in enumerate(items, 1))


def _fallback(number: int, item: str) -> Fallback:
    if not item:
        raise InvalidFallbacks(f"alternative {number} is empty")
    match = _ITEM.fullmatch(item)
    if match is None:
        raise InvalidFallbacks(
            f"alternative {number} is not FLAVOR@ZONE, FLAVOR or @ZONE (visible ASCII "
            "characters other than , and @)"
        )
    return Fallback(flavor_ref=match["flavor"], availability_zone=match["zone"])
