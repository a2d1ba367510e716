"""`ecs-provisioner validate [--policy FILE [--project ID]] [FILE|-]`: check one create-servers
request body offline, optionally against a guardrails policy (so publishers can test in CI).

Exit codes: 0 valid (one-line summary on stdout), 1 invalid or against the policy (one
`path: message` line per problem on stdout), 2 unreadable input, not JSON, a bad
`ECSP_ALLOWED_EXTRA_FIELDS` or an invalid policy file (message on stderr). The verdict is the
worker's (`ecsp_contract.verdict.check_body`, with the same `ECSP_ALLOWED_EXTRA_FIELDS`). A `$NAME`
adminPass is reported as a reference that the worker resolves; its value is never checked or
printed here. The hourly budget is not checked offline (beyond a `count` that could never fit).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ecsp_contract.extensions import ExtraFieldError, parse_extra_fields
from ecsp_contract.request import CreateServersBody
from ecsp_contract.verdict import InvalidBody, check_body
from worker.policy.check import violations
from worker.policy.load import PolicyFileError, read_policy

EXTRA_FIELDS_VARIABLE = "ECSP_ALLOWED_EXTRA_FIELDS"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a create-servers request body",
        description="Validate one request body (the JSON published on the requests topic). "
        "Exit codes: 0 valid, 1 invalid or against the policy (one 'path: message' line per "
        "problem), 2 unreadable, not JSON, or an invalid policy file.",
    )
    parser.add_argument(
        "--policy", metavar="FILE", help="also check the body against this guardrails policy"
    )
    parser.add_argument(
        "--project",
        metavar="ID",
        help="project the request is for (selects the policy's project overrides)",
    )
    parser.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="JSON file, or - for stdin (default)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"ecs-provisioner validate: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"ecs-provisioner validate: not JSON: {_reason(exc)}", file=sys.stderr)
        return 2
    policy = None
    if args.policy is not None:
        try:
            _, policy = read_policy(Path(args.policy))
        except PolicyFileError as exc:
            print(f"ecs-provisioner validate: {exc}", file=sys.stderr)
            return 2
    setting = os.environ.get(EXTRA_FIELDS_VARIABLE, "")
    try:
        extra_fields = parse_extra_fields(tuple(setting.split(",")))
    except ExtraFieldError as exc:
        print(f"ecs-provisioner validate: {EXTRA_FIELDS_VARIABLE}: {exc}", file=sys.stderr)
        return 2
    try:
        checked = check_body(document, extra_fields)
    except InvalidBody as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    if policy is not None:
        broken = violations(policy.rules_for(args.project), checked.wire)
        for violation in broken:
            print(violation)
        if broken:
            return 1
    print(summary(checked.body) + (", allowed by the policy" if policy is not None else ""))
    return 0


def summary(body: CreateServersBody) -> str:
    """One line describing a valid request (no secret values)."""
    server = body.server
    charging = (server.extendparam and server.extendparam.charging_mode) or "postPaid"
    parts = [
        f"valid: {server.count or 1} x {server.flavor_ref} named {server.name!r}",
        charging,
        f"{len(server.nics)} NIC(s)",
        f"{len(server.data_volumes or [])} data disk(s)",
    ]
    if body.dry_run:
        parts.append("dry run")
    reference = server.admin_pass_reference
    if reference is not None:
        parts.append(f"adminPass is secret reference ${reference} (resolved by the worker)")
    elif server.admin_pass is not None:
        parts.append("adminPass is a literal (prefer a $NAME reference)")
    return ", ".join(parts)


def _reason(exc: UnicodeDecodeError | json.JSONDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "input is not valid UTF-8"
    return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
