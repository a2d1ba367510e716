"""`ecs-provisioner policy check FILE`: validate a guardrails policy file offline.

A valid file gets a summary on stdout (exit 0); an invalid one, YAML or not, a `path: message`
line per problem on stdout (exit 1); an unreadable one a message on stderr (exit 2). The codes
are `worker.cli.exit_codes`' (`policy check`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from worker.cli.exit_codes import ExitCode
from worker.cli.usage import HelpFormatter, epilog
from worker.policy.load import PolicyFileError, parse_policy
from worker.policy.model import PolicyDocument, Rules

EXAMPLES = (
    (
        "check the shipped policy before it goes into the ConfigMap",
        "ecs-provisioner policy check deploy/k8s/components/guardrails/policy.yaml",
    ),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="check a guardrails policy file",
        description="Work with the guardrails policy file (ECSP_POLICY_FILE).",
        epilog=epilog("policy check", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    actions = parser.add_subparsers(dest="policy_action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="validate a policy file",
        description="Validate a policy file: one 'path: message' line per problem, unknown "
        "keys included (with the closest known key), so a typo never disables a rule.",
        epilog=epilog("policy check", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    check.add_argument("file", metavar="FILE", help="the YAML policy file")
    check.set_defaults(handler=handle_check)


def handle_check(args: argparse.Namespace) -> int:
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"ecs-provisioner policy: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        policy = parse_policy(raw, source=args.file)
    except PolicyFileError as exc:
        for problem in exc.problems:
            print(problem)
        return ExitCode.FAILED
    print(summary(policy))
    return ExitCode.OK


def summary(policy: PolicyDocument) -> str:
    """One line: the default's rules and how many tenants and projects override them."""
    tenants = f"{len(policy.tenants)} tenant override(s), " if policy.tenants else ""
    return (
        f"valid: default rules: {_rule_names(policy.default)}; "
        f"{tenants}{len(policy.projects)} project override(s)"
    )


def _rule_names(rules: Rules) -> str:
    names = [name for name in Rules.model_fields if getattr(rules, name) is not None]
    return ", ".join(names) or "none"
