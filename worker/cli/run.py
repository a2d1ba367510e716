"""`ecs-provisioner run`: the worker process (consume requests, create servers, publish events)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiokafka.errors import KafkaConnectionError

from worker.ops import kafka_log
from worker.ops.config import ConfigError, load_settings
from worker.ops.gc_tuning import collecting_periodically, tune_garbage_collector
from worker.ops.logging import configure_logging
from worker.ops.tracing import TracingConfigError
from worker.policy.load import PolicyFileError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the provisioning worker",
        description="Consume provisioning requests from Kafka, create ECS servers idempotently "
        "and publish CloudEvents. All settings come from ECSP_* environment variables (see the "
        "README's configuration table). Exit codes: 0 stopped cleanly (SIGTERM/SIGINT), "
        "1 failed at run time, 2 invalid configuration (or policy file).",
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
        return 2
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
        return 2
    except TracingConfigError as exc:
        print(f"ecs-provisioner: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the ops port is taken
        print(f"ecs-provisioner: {exc}", file=sys.stderr)
        return 1
    except KafkaConnectionError as exc:  # bootstrap failed: refused credentials, untrusted CA, …
        why = kafka_log.last_connection_problem() or str(exc)
        print(
            f"ecs-provisioner: cannot connect to Kafka {settings.kafka_bootstrap_servers}: {why}",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:
        print(f"ecs-provisioner: worker failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
