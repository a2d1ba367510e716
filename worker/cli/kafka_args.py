"""Options shared by the commands that talk to Kafka directly (`publish`, `results`)."""

from __future__ import annotations

import argparse

from worker.ops.config import ConfigError, Settings, load_settings


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


__all__ = ["ConfigError", "add_kafka_options", "settings_for"]
