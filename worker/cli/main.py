"""Entry point of the `ecs-provisioner` command: builds the parser from the sub-command modules.

Each sub-command module exposes `add_parser(subparsers)`, which registers its parser (with the
`worker.cli.usage` epilog: examples and its exit codes) and sets `handler` (a callable taking the
parsed namespace and returning the exit code) as a default. Every command's exit codes follow
the one scheme of `worker.cli.exit_codes`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from worker.cli.usage import HelpFormatter, scheme_epilog
from worker.ops.version import package_version

EXAMPLES = (
    (
        "30 seconds, offline: check a request body against the shipped guardrails policy",
        "ecs-provisioner validate --policy deploy/k8s/components/guardrails/policy.yaml "
        "schemas/ecsp_contract/examples/06-postpaid-within-policy.json",
    ),
    ("publish a request, then read its outcome", "ecs-provisioner publish FILE --key ticket-4711"),
    ("", "ecs-provisioner results --key ticket-4711"),
    ("one command's examples and exit codes", "ecs-provisioner publish --help"),
)


#: The sub-commands' modules under `worker.cli`, in help order.
COMMANDS = (
    "run",
    "publish",
    "results",
    "status",
    "doctor",
    "samples",
    "simulator",
    "validate",
    "policy_cmd",
    "schemas_cmd",
)


def _command_modules() -> list[ModuleType]:
    return [importlib.import_module(f"worker.cli.{name}") for name in COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecs-provisioner",
        description="Event-driven provisioning worker for Huawei Cloud ECS: provisioning "
        "requests from Kafka, idempotent creates, CloudEvents out.",
        epilog=scheme_epilog(EXAMPLES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
