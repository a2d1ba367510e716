"""`ecs-provisioner schemas export|check`: regenerate or verify the checked-in contract files.

`export` rewrites `schemas/ecsp_contract/json/*.schema.json` and
`schemas/ecsp_contract/asyncapi.yaml` from the models;
`check` exits 1 and names every stale file (0 when all are up to date; the codes are
`worker.cli.exit_codes`' `schemas`).
"""

from __future__ import annotations

import argparse
import sys

from ecsp_contract.export import PACKAGE_DIR, check, export
from worker.cli.exit_codes import ExitCode
from worker.cli.usage import HelpFormatter, epilog

EXAMPLES = (
    ("after changing a model in schemas/: rewrite the files", "ecs-provisioner schemas export"),
    ("in CI: fail when a checked-in file is stale", "ecs-provisioner schemas check"),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schemas",
        help="export or check the JSON Schemas and AsyncAPI document",
        description="export: regenerate schemas/ecsp_contract/json/*.schema.json and "
        "schemas/ecsp_contract/asyncapi.yaml from the models. check: exit 1 naming each file "
        "that differs from the models.",
        epilog=epilog("schemas", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("action", choices=("export", "check"))
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    if args.action == "export":
        for path in export():
            print(f"wrote {path}")
        return ExitCode.OK
    stale = check()
    for name in stale:
        print(
            f"stale: {PACKAGE_DIR.parent.name}/{PACKAGE_DIR.name}/{name} "
            "(run `ecs-provisioner schemas export`)",
            file=sys.stderr,
        )
    if not stale:
        print("schemas: up to date")
    return ExitCode.FAILED if stale else ExitCode.OK
