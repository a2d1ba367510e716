"""Every relative link and anchor of README.md, its neighbours and docs/*.md resolves, and the
README stays the short page it was reshaped into."""

from __future__ import annotations

from pathlib import Path

from tests.docs.markdown import PAGES, ROOT, anchors, broken_links, slug


def test_every_relative_link_and_anchor_resolves() -> None:
    assert len(PAGES) >= 20
    assert broken_links(PAGES) == []


def test_the_checker_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## A `code` heading, with commas!\n")
    page.write_text(
        "[ok](other.md#a-code-heading-with-commas) [gone](missing.md) [bad](other.md#nope) "
        "[here](#page) `[not a link](nowhere.md)`\n\n# Page\n\n```\n[code](nowhere.md)\n```\n"
    )
    assert broken_links([page]) == [
        "page.md: missing.md (no such file)",
        "page.md: other.md#nope (no such heading)",
    ]


def test_anchors_are_githubs() -> None:
    assert slug("Guarantees: within 8 hours, after 8 hours, on partial failure") == (
        "guarantees-within-8-hours-after-8-hours-on-partial-failure"
    )
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


def test_the_readme_is_under_200_lines_and_links_each_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    for page in (ROOT / "docs").glob("*.md"):
        if page.name != "mutation.md":  # reached through docs/reliability.md
            assert f"(docs/{page.name})" in readme, page.name
