"""What the commands that talk to Kafka directly (`publish`, `results`, `samples`, `status`) share.

- `add_kafka_options`: `--bootstrap-servers` and `--config`;
- `cli_producer` / `cli_consumer` / `cli_admin`: aiokafka clients with the configured security,
  an idempotent producer and a consumer that never commits (these commands read without a
  group);
- `run_kafka_command`: loads the settings, runs the command's coroutine (`stopping`: SIGINT or
  SIGTERM end it within about two seconds) and maps the outcome to the exit codes every such
  command documents: 2 configuration error, 3 Kafka error (`KafkaError` or
  `KafkaCommandError`), 0 when a signal ends a phase only a signal ends (following events),
  130/143 when SIGINT/SIGTERM interrupt anything else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from worker.cli.stopping import Stop, run_until_stopped
from worker.consumer.kafka import security_options
from worker.ops.config import ConfigError, Settings, load_settings

#: How long a command waits for one Kafka request before it gives up.
REQUEST_TIMEOUT_MS = 15_000

EXIT_CONFIG = 2
EXIT_KAFKA = 3


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
    """The settings, with --bootstrap-servers applied; raises ConfigError."""
    settings = load_settings(args.config)
    if args.bootstrap_servers:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": args.bootstrap_servers})
    return settings


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
        return EXIT_CONFIG
    try:
        return run_until_stopped(lambda stop: command(settings, stop))
    except (KafkaError, KafkaCommandError) as exc:
        print(f"ecs-provisioner {name}: Kafka error: {exc}", file=sys.stderr)
        return EXIT_KAFKA
