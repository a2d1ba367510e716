"""The configuration table of docs/configuration.md, generated from the settings model.

`python -m tools.docgen.config_table` rewrites the table between the page's markers;
`--check` exits 1 when the page is out of date (a test runs the same check).
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tools.docgen.section import DOCS, GeneratedSection
from worker.ops.settings import FILE_BACKED_SECRETS, Settings


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined or field.default is None:
        return "—"
    else:
        value = field.default
    if isinstance(value, list):
        return "—" if not value else ",".join(map(str, value))
    text = str(value)
    return f"`{text}`" if text else "(empty)"


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    file_forms = {f"{name}_file" for name in FILE_BACKED_SECRETS}
    for name, field in Settings.model_fields.items():
        if name in file_forms:
            continue  # shown on its secret's row
        variable = f"`ECSP_{name.upper()}`"
        if name in FILE_BACKED_SECRETS:
            variable += f" / `ECSP_{name.upper()}_FILE`"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| {variable} | {_default(field)} | {description} |")
    rows.append(
        "| `ECSP_CONFIG_FILE` | — | Optional dotenv-style file with any of these settings. |"
    )
    return "\n".join(rows)


SECTION = GeneratedSection(
    "config-table", "tools.docgen.config_table", markdown_table, DOCS / "configuration.md"
)
main = SECTION.main


if __name__ == "__main__":
    sys.exit(main())
