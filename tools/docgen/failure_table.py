"""The failure tables (every stage, every worker error code, the API codes the docs name),
generated from the contract.

`python -m tools.docgen.failure_table` rewrites them between the markers of docs/failures.md from
`ecsp_contract.failures`; `--check` exits 1 when the page is out of date (a test runs the check).
"""

from __future__ import annotations

import sys

from ecsp_contract.failures import (
    ANY_STAGE,
    API_ERROR_CODES,
    STAGE_OF_API_CODE,
    FailureStage,
    WorkerErrorCode,
)
from tools.docgen.section import DOCS, GeneratedSection


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _typical_codes(stage: FailureStage) -> str:
    codes = [f"`{code}`" for code, where in STAGE_OF_API_CODE.items() if where is stage]
    if stage.api_codes:
        codes.append(stage.api_codes)
    codes += [f"`{code.value}`" for code in WorkerErrorCode if stage in code.stages]
    return ", ".join(codes)


def _stages(code: WorkerErrorCode) -> str:
    return ", ".join(f"`{stage.value}`" for stage in code.stages) or "any"


def markdown_tables() -> str:
    rows = ["| stage | meaning | typical `error.code` | what to do |", "|---|---|---|---|"]
    rows += [
        f"| `{stage.value}` | {_cell(stage.meaning)} | {_cell(_typical_codes(stage))} "
        f"| {_cell(stage.remedy)} |"
        for stage in FailureStage
    ]
    rows += [
        f"| any | {_cell(code.meaning)} | `{code.value}` | {_cell(code.remedy)} |"
        for code in WorkerErrorCode
        if code.stages == ANY_STAGE
    ]
    rows += ["", "| `error.code` | stage | meaning |", "|---|---|---|"]
    rows += [
        f"| `{code.value}` | {_stages(code)} | {_cell(code.meaning)} |" for code in WorkerErrorCode
    ]
    rows += [
        f"| `{api_code}` (API) | `{stage.value}` | {_cell(stage.meaning)}; never retried |"
        for api_code, stage in STAGE_OF_API_CODE.items()
    ]
    rows += ["", "| API code | what it means for a request |", "|---|---|"]
    rows += [f"| `{code}` | {_cell(meaning)} |" for code, meaning in API_ERROR_CODES.items()]
    return "\n".join(rows)


SECTION = GeneratedSection(
    "failure-table", "tools.docgen.failure_table", markdown_tables, DOCS / "failures.md"
)
main = SECTION.main


if __name__ == "__main__":
    sys.exit(main())
