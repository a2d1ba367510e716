"""`ecs-provisioner doctor [--config FILE]`: check a deployment; a checklist with a fix per failure.

In order: the configuration `run` would start with; the guardrails policy file; the secrets
directory; Kafka (the brokers answer; each configured topic exists, the state topic with
cleanup.policy=compact and the event topics with room for ECSP_MAX_EVENT_BYTES; the configured
user may read the requests topic and the group and write the event topics); the ECS API (the
endpoint answers, its TLS certificate verified, and one signed read-only call is accepted: an
unknown access key, a wrong secret key, a clock more than 15 minutes off or a missing
permission is named as such). Checks that depend on a failed one are skipped. Nothing secret
is printed.
Exit codes: 0 every check passed; 1 otherwise; 2 usage error; 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import logging

from worker.cli.exit_codes import ExitCode
from worker.cli.stopping import Stop, run_until_stopped
from worker.cli.usage import HelpFormatter, epilog
from worker.doctor.checklist import Check, all_passed, line, skipped, tally
from worker.doctor.kafka import kafka_checks
from worker.doctor.local import configuration, policy_file, secrets_directory

EXAMPLES = (
    ("check this environment's settings", "ecs-provisioner doctor"),
    ("what `make run` uses", "ecs-provisioner doctor --config deploy/local/.run/demo/worker.env"),
    ("inside a worker pod", "kubectl exec deploy/ecs-provisioner -- ecs-provisioner doctor"),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the configuration, Kafka and the ECS API; say how to fix what fails",
        description=__doc__,
        epilog=epilog("doctor", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="dotenv-style file of ECSP_* settings")
    parser.set_defaults(handler=handle)


def _show(checks: list[Check], *more: Check) -> None:
    for check in more:
        print(line(check), flush=True)
    checks.extend(more)


async def diagnose(config_file: str | None) -> int:
    """Runs and prints every check; the exit code."""
    # Loaded here, not with the parser: it brings the worker's whole ECS stack (~0.2 s), which
    # every other command's start-up would pay.
    from worker.doctor.ecs import ecs_checks

    checks: list[Check] = []
    config, settings = configuration(config_file)
    _show(checks, config)
    if settings is None:
        _show(checks, skipped("everything else", "no usable settings"))
    else:
        _show(checks, policy_file(settings), secrets_directory(settings))
        _show(checks, *await kafka_checks(settings))
        _show(checks, *await ecs_checks(settings))
    print(tally(checks))
    return ExitCode.OK if all_passed(checks) else ExitCode.FAILED


def handle(args: argparse.Namespace) -> int:
    # aiokafka logs what the Kafka checks report anyway (a refused connection, say)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def doctor(stop: Stop) -> int:
        del stop  # a signal interrupts the checks: the default exit code says so
        return await diagnose(args.config)

    return run_until_stopped(doctor)
