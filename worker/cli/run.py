"""`ecs-provisioner run`: the worker process (consume requests, create servers, publish events).

Exit codes (`worker.cli.exit_codes`, `run`): 0 after a SIGTERM/SIGINT drain; 2 for anything the
configuration can fix (settings, the policy or tenants file, OTEL_*, an ops port or file it
cannot use);
3 when Kafka cannot be reached at start, naming the address and its setting; 1 for any other
error, named by its type.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka.errors import KafkaConnectionError

from worker.cli.exit_codes import ExitCode
from worker.cli.kafka_command import bootstrap_source, kafka_problem
from worker.cli.usage import HelpFormatter, epilog
from worker.ops.gc_tuning import collecting_periodically, tune_garbage_collector
from worker.ops.logging import configure_logging
from worker.ops.otel import TracingConfigError
from worker.ops.settings import ConfigError, load_settings
from worker.policy.load import PolicyFileError
from worker.tenancy.load import TenantsFileError

EXAMPLES = (
    ("the worker, configured by ECSP_* variables", "ecs-provisioner run"),
    (
        "... or by a dotenv-style file of them",
        "ecs-provisioner run --config /etc/ecs-provisioner/worker.env",
    ),
    (
        "a second worker beside make run's (its simulator, demo credentials, another ops port)",
        "ECSP_ECS_ENDPOINT=http://127.0.0.1:8700 ECSP_ECS_AK=demo-ak ECSP_ECS_SK=demo-sk "
        "ECSP_ECS_PROJECT_ID=0605767ea3000f5b2fe8c0051de0b9ba ECSP_OPS_PORT=8081 "
        "ecs-provisioner run",
    ),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the provisioning worker",
        description="Consume provisioning requests from Kafka, create ECS servers idempotently "
        "and publish CloudEvents. All settings come from ECSP_* environment variables "
        "(docs/configuration.md); an ECSP_* variable that is no setting stops it at start, "
        "naming the closest setting.",
        epilog=epilog("run", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="dotenv-style file of ECSP_* settings (or ECSP_CONFIG_FILE)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, for_run=True)
    except ConfigError as exc:
        print(f"ecs-provisioner: invalid configuration: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    configure_logging(settings.log_level, settings.log_format)

    from worker.service import install_signal_handlers, serve

    async def main() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        async with collecting_periodically():
            await serve(settings, stop)

    tune_garbage_collector()  # after the last import, before the first request
    try:
        asyncio.run(main())
    except PolicyFileError as exc:
        print(f"ecs-provisioner: invalid configuration: ECSP_POLICY_FILE: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except TenantsFileError as exc:
        print(f"ecs-provisioner: invalid configuration: ECSP_TENANTS_FILE: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except TracingConfigError as exc:
        print(f"ecs-provisioner: invalid configuration: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except OSError as exc:  # e.g. the ops port is taken, a CA file is missing
        print(f"ecs-provisioner: cannot start: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KafkaConnectionError as exc:  # bootstrap failed: refused credentials, untrusted CA, …
        problem = kafka_problem(exc, settings.kafka_bootstrap_servers, bootstrap_source(settings))
        print(f"ecs-provisioner: {problem}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    except Exception as exc:
        print(f"ecs-provisioner: worker failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK
