"""What the commands that talk to Kafka directly (`publish`, `results`, `samples`, `status`) share.

- `add_kafka_options`: `--bootstrap-servers` and `--config`;
- `cli_producer` / `cli_consumer` / `cli_admin`: aiokafka clients with the configured security,
  an idempotent producer and a consumer that never commits (these commands read without a
  group);
- `run_kafka_command`: loads the settings, runs the command's coroutine (`stopping`: SIGINT or
  SIGTERM end it within about two seconds) and maps the outcome to the exit codes of
  `worker.cli.exit_codes`: 2 configuration error, 3 Kafka error (`KafkaError` or
  `KafkaCommandError`), 0 when a signal ends a phase only a signal ends (following events),
  130/143 when SIGINT/SIGTERM interrupt anything else;
- `kafka_problem`: what went wrong with Kafka in one line, naming the address and the setting it
  came from. aiokafka's own log lines stay quiet in these commands (that line says it once).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from worker.cli.exit_codes import ExitCode
from worker.cli.stopping import Stop, run_until_stopped
from worker.cli.tenant_view import as_tenant
from worker.consumer.kafka import security_options
from worker.ops import kafka_log
from worker.ops.settings import ConfigError, Settings, load_settings

#: How long a command waits for one Kafka request before it gives up.
REQUEST_TIMEOUT_MS = 15_000
BOOTSTRAP_SETTING = "ECSP_KAFKA_BOOTSTRAP_SERVERS"


class KafkaCommandError(Exception):
    """Kafka is not usable for this command (e.g. a topic is missing): exit 3 with the message."""


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: ECSP_KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    parser.add_argument("--config", metavar="FILE", help="dotenv-style file of ECSP_* settings")


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings, with --bootstrap-servers and a command's --tenant applied; raises
    ConfigError."""
    settings = load_settings(args.config)
    if args.bootstrap_servers:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": args.bootstrap_servers})
    return as_tenant(settings, getattr(args, "tenant", None))


def cli_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        **security_options(settings),
    )


def cli_admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        **security_options(settings),
    )


def cli_consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        **options,
        **security_options(settings),
    )


def kafka_problem(exc: Exception, bootstrap: str, source: str) -> str:
    """One line on a Kafka failure: the address, the setting it came from (`source`), why."""
    where = f"Kafka at {bootstrap} ({source})"
    if isinstance(exc, KafkaConnectionError):
        why = kafka_log.last_connection_problem() or "no broker answered"
        return f"cannot reach {where}: {why}"
    if isinstance(exc, KafkaTimeoutError):
        return f"{where} did not answer in time"
    if isinstance(exc, KafkaCommandError):
        return str(exc)
    return f"{where}: {type(exc).__name__}: {exc}"


def quiet_kafka_logs() -> None:
    """aiokafka logs each failed attempt; a command says what failed once, in its own line."""
    kafka_log.install()  # still notes refused credentials and certificates for that line
    logger = logging.getLogger("aiokafka")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


def run_kafka_command(
    name: str,
    args: argparse.Namespace,
    command: Callable[[Settings, Stop], Coroutine[Any, Any, int]],
) -> int:
    """Runs `command(settings, stop)`; its exit code, or the documented code of a failure."""
    try:
        settings = settings_for(args)
    except ConfigError as exc:
        print(f"ecs-provisioner {name}: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    quiet_kafka_logs()
    try:
        return run_until_stopped(lambda stop: command(settings, stop))
    except (KafkaError, KafkaCommandError) as exc:
        source = "--bootstrap-servers" if args.bootstrap_servers else bootstrap_source(settings)
        problem = kafka_problem(exc, settings.kafka_bootstrap_servers, source)
        print(f"ecs-provisioner {name}: {problem}", file=sys.stderr)
        return ExitCode.UNAVAILABLE


def bootstrap_source(settings: Settings) -> str:
    """Where the settings' bootstrap servers came from: the setting, or its default."""
    if "kafka_bootstrap_servers" in settings.model_fields_set:
        return BOOTSTRAP_SETTING
    return f"the default; set {BOOTSTRAP_SETTING}"
