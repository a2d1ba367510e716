"""`ecs-provisioner policy check FILE`: validate a guardrails policy file offline.

Exit codes: 0 valid (a summary on stdout), 1 invalid (one `path: message` line per problem on
stdout), 2 unreadable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from worker.policy.load import PolicyFileError, parse_policy
from worker.policy.model import PolicyDocument, Rules


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="check a guardrails policy file",
        description="Work with the guardrails policy file (ECSP_POLICY_FILE).",
    )
    actions = parser.add_subparsers(dest="policy_action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="validate a policy file",
        description="Validate a policy file. Exit codes: 0 valid, 1 invalid (one "
        "'path: message' line per problem), 2 unreadable.",
    )
    check.add_argument("file", metavar="FILE", help="the YAML policy file")
    check.set_defaults(handler=handle_check)


def handle_check(args: argparse.Namespace) -> int:
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"ecs-provisioner policy: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        policy = parse_policy(raw, source=args.file)
    except PolicyFileError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    print(summary(policy))
    return 0


def summary(policy: PolicyDocument) -> str:
    """One line: the default's rules and how many projects override them."""
    return (
        f"valid: default rules: {_rule_names(policy.default)}; "
        f"{len(policy.projects)} project override(s)"
    )


def _rule_names(rules: Rules) -> str:
    names = [name for name in Rules.model_fields if getattr(rules, name) is not None]
    return ", ".join(names) or "none"
