"""`ecs-provisioner validate [--policy FILE [--project ID]] [FILE|-]`: check one create-servers
request body offline, optionally against a guardrails policy (so publishers can test in CI).

The verdict is the worker's (`worker.cli.request_check`: its decode step, then the contract's
`check_body` with the same `ECSP_ALLOWED_EXTRA_FIELDS` and `ECSP_MAX_REQUEST_BYTES`). A valid body
gets a one-line summary on stdout; a refused one a line per problem on stdout (exit 1); an
unreadable file, an invalid policy file or bad settings a message on stderr (exit 2; the codes
are `worker.cli.exit_codes`'). A `$NAME` adminPass is reported as a reference that the worker
resolves; its value is never checked or printed here. The hourly budget is not checked offline
(beyond a `count` that could never fit).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecsp_contract.request import CreateServersBody
from worker.cli.exit_codes import ExitCode
from worker.cli.request_check import Refused, check_value
from worker.cli.usage import HelpFormatter, epilog
from worker.ops.settings import ConfigError, load_settings
from worker.policy.check import violations
from worker.policy.load import PolicyFileError, read_policy

EXAMPLE = "schemas/ecsp_contract/examples/06-postpaid-within-policy.json"
POLICY = "deploy/k8s/components/guardrails/policy.yaml"
EXAMPLES = (
    ("check a body the way the worker will", f"ecs-provisioner validate {EXAMPLE}"),
    (
        "... and against a policy file, for one project",
        f"ecs-provisioner validate --policy {POLICY} --project 0605767ea3000f5b2fe8c0051de0b9ba "
        f"{EXAMPLE}",
    ),
    (
        "check a body a script changed (stdin)",
        f"jq '.server.count = 2' {EXAMPLE} | ecs-provisioner validate -",
    ),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a create-servers request body",
        description="Validate one request body (the JSON published on the requests topic) with "
        "the worker's own verdict: what the worker would refuse at decode or validate, this "
        "refuses too, with one 'path: message' line per problem.",
        epilog=epilog("validate", EXAMPLES),
        formatter_class=HelpFormatter,
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
    source = "(stdin)" if args.file == "-" else args.file
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"ecs-provisioner validate: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"ecs-provisioner validate: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    policy = None
    if args.policy is not None:
        try:
            _, policy = read_policy(Path(args.policy))
        except PolicyFileError as exc:
            print(f"ecs-provisioner validate: --policy: {exc}", file=sys.stderr)
            return ExitCode.USAGE
    try:
        checked = check_value(
            raw, extra_fields=settings.extra_fields(), max_bytes=settings.max_request_bytes
        )
    except Refused as refused:
        for line in refused.lines:
            print(f"{source}: {line}" if refused.undecodable else line)
        return ExitCode.FAILED
    if policy is not None:
        broken = violations(policy.rules_for(args.project), checked.wire)
        for violation in broken:
            print(violation)
        if broken:
            return ExitCode.FAILED
    print(summary(checked.body) + (", allowed by the policy" if policy is not None else ""))
    return ExitCode.OK


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
