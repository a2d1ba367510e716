"""Reading the project's Markdown pages for the documentation tests: links, headings, prose.

`links(page)` yields the relative link targets of a page outside code; `anchors(page)` the
anchors its headings get on GitHub (lower case, punctuation dropped, spaces to hyphens, `-1`,
`-2` for repeats); `broken_links(pages)` names every relative link whose file or anchor does not
exist. `prose(page)` is the page without fenced code blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The pages a reader is sent to: the README and its neighbours, and every page of docs/.
PAGES = sorted(
    [ROOT / name for name in ("README.md", "CHANGELOG.md", "CONTRIBUTING.md", "SECURITY.md")]
    + list((ROOT / "docs").glob("*.md"))
)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def prose(text: str) -> str:
    """`text` without its fenced code blocks."""
    return _FENCE.sub("", text)


def links(text: str) -> Iterator[str]:
    """The targets of the links of `text` that are neither external nor in code."""
    for target in _LINK.findall(_INLINE_CODE.sub("", prose(text))):
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            yield target


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    for heading in _HEADING.findall(prose(text)):
        base = anchor = slug(heading)
        repeat = 0
        while anchor in found:
            repeat += 1
            anchor = f"{base}-{repeat}"
        found.add(anchor)
    return found


def broken_links(pages: Iterable[Path]) -> list[str]:
    """`page: target (why)` for every relative link that does not resolve."""
    broken = []
    for page in pages:
        shown = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page.name
        for target in links(page.read_text(encoding="utf-8")):
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{shown}: {target} (no such file)")
            elif (
                anchor
                and file.suffix == ".md"
                and anchor not in anchors(file.read_text(encoding="utf-8"))
            ):
                broken.append(f"{shown}: {target} (no such heading)")
    return broken
