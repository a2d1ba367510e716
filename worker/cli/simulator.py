"""``ecs-provisioner simulator``: serve the ECS API simulator until SIGTERM/SIGINT (exit 0).

Owns the command line of docs/contract.md, "Simulator interface": ``--host`` (127.0.0.1),
``--port`` (8700; 0 picks a free port), ``--credential AK:SK`` (repeatable), ``--iam-user
NAME:PASSWORD`` (repeatable), ``--job-seconds MIN:MAX`` (2:6), ``--seed N``, the fault flags
``--error-rate``, ``--throttle-rate``, ``--drop-rate``, ``--latency-ms MIN:MAX``,
``--job-failure-rate``, ``--partial-failure-rate``, ``--quota-per-second``, ``--sold-out
FLAVOR@ZONE`` (repeatable, ``*`` for any flavor or zone: those offerings answer Ecs.0319),
``--sold-out-job-rate`` (0.5: the fraction of them accepted and failed in the job),
``--quota-exceeded FLAVOR@ZONE`` (repeatable: Ecs.0001), ``--token-window-seconds`` (28800;
``--token-ttl-seconds`` is a hidden alias of old),
``--list-lag-seconds`` (0: how long a new server is missing from the server list),
``--allow-field PATH`` (a create-body field of a newer API to accept, repeatable) and
``--admin-routes`` (serve the unauthenticated ``/_sim/`` paths; off by default). AK/SK pairs
may also come from ``--credentials-file FILE`` (one ``AK:SK`` a line) or the environment
(`CREDENTIALS_ENV`, comma-separated), which ``ps`` does not show. Logs one line with the URL
once listening. Credentials given here are never logged. Exit codes:
``worker.cli.exit_codes`` (``simulator``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

import structlog

from ecsp_contract.extensions import ExtraFieldError, parse_extra_fields
from worker.cli.exit_codes import ExitCode
from worker.cli.usage import HelpFormatter, epilog
from worker.simulator.knobs import (
    Faults,
    FaultsError,
    Range,
    SimulatorConfig,
    parse_offering,
    parse_range,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700
EXAMPLES = (
    (
        "the simulator of make run: one AK/SK, jobs of 2 to 6 s, repeatable",
        "ecs-provisioner simulator --port 8700 --credential demo-ak:demo-sk --seed 1",
    ),
    (
        "an unreliable API: 20 % 5xx, 10 % 429, the 8-hour token window in 30 s",
        "ecs-provisioner simulator --credential AK:SK --error-rate 0.2 --throttle-rate 0.1 "
        "--token-window-seconds 30",
    ),
)
CREDENTIALS_ENV = "ECSP_SIMULATOR_CREDENTIALS"
"""Accepted AK/SK pairs, ``AK:SK,AK2:SK2`` (the environment is not on the command line)."""


def _pair(text: str) -> tuple[str, str]:
    first, sep, second = text.partition(":")
    if not sep or not first or not second:
        raise argparse.ArgumentTypeError("expected NAME:VALUE")
    return first, second


def _range(text: str) -> Range:
    try:
        return parse_range(text)
    except FaultsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _offering(text: str) -> str:
    try:
        return parse_offering(text)
    except FaultsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the ``simulator`` sub-command."""
    parser = subparsers.add_parser(
        "simulator",
        help="serve a faithful ECS API simulator (for tests, the local stack and benchmarks)",
        description="Serve the ECS API simulator on http://HOST:PORT until SIGTERM/SIGINT: "
        "signed and IAM-token auth, X-Client-Token memory, jobs, server list and delete, "
        "faults (worker/simulator/README.md).",
        epilog=epilog("simulator", EXAMPLES),
        formatter_class=HelpFormatter,
    )
    _serving_options(parser.add_argument_group("serving and authentication"))
    _fault_options(parser.add_argument_group("jobs and faults"))
    _capacity_options(parser.add_argument_group("capacity and quota"))
    _api_memory_options(parser.add_argument_group("what the API remembers and accepts"))
    parser.set_defaults(handler=run)


def _serving_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--host", default=DEFAULT_HOST, metavar="HOST", help="address to bind (%(default)s)"
    )
    group.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        metavar="PORT",
        help="port, 0 for any free one (%(default)s)",
    )
    group.add_argument(
        "--credential",
        type=_pair,
        action="append",
        default=[],
        metavar="AK:SK",
        help="accepted AK/SK pair (repeatable)",
    )
    group.add_argument(
        "--credentials-file",
        type=Path,
        metavar="FILE",
        help=f"accepted AK:SK pairs, one a line, # comments (also ${CREDENTIALS_ENV}: AK:SK,...)",
    )
    group.add_argument(
        "--admin-routes",
        action="store_true",
        help="serve /_sim/... (statistics, faults, paying orders, key rotation); they need no "
        "authentication: tests and local stacks only",
    )
    group.add_argument(
        "--iam-user",
        type=_pair,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="IAM user accepted by POST /v3/auth/tokens, any domain (repeatable)",
    )


def _fault_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--job-seconds",
        type=_range,
        default=(2.0, 6.0),
        metavar="MIN:MAX",
        help="job duration range; 0:0 finishes jobs at once (2:6)",
    )
    group.add_argument(
        "--seed", type=int, default=None, metavar="N", help="seed for repeatable runs"
    )
    group.add_argument(
        "--error-rate", type=_rate, default=0.0, metavar="F", help="fraction answered 5xx"
    )
    group.add_argument(
        "--throttle-rate", type=_rate, default=0.0, metavar="F", help="fraction answered 429"
    )
    group.add_argument(
        "--drop-rate",
        type=_rate,
        default=0.0,
        metavar="F",
        help="fraction of dropped connections",
    )
    group.add_argument(
        "--latency-ms",
        type=_range,
        default=(0.0, 0.0),
        metavar="MIN:MAX",
        help="added latency range in milliseconds (0:0)",
    )
    group.add_argument(
        "--job-failure-rate",
        type=_rate,
        default=0.0,
        metavar="F",
        help="fraction of jobs that FAIL",
    )
    group.add_argument(
        "--partial-failure-rate",
        type=_rate,
        default=0.0,
        metavar="F",
        help="fraction of jobs with count > 1 that FAIL on one sub-job only",
    )


def _capacity_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--sold-out",
        type=_offering,
        action="append",
        default=[],
        metavar="FLAVOR@ZONE",
        help="an offering out of capacity, answered Ecs.0319; * for any flavor or zone "
        '(repeatable; change at run time with POST /_sim/faults {"sold_out": [...]})',
    )
    group.add_argument(
        "--quota-exceeded",
        type=_offering,
        action="append",
        default=[],
        metavar="FLAVOR@ZONE",
        help="an offering over the project's quota, answered Ecs.0001; * for any flavor or zone "
        "(repeatable)",
    )
    group.add_argument(
        "--sold-out-job-rate",
        type=_rate,
        default=0.5,
        metavar="F",
        help="fraction of creates of a sold-out offering accepted and then failed in the job; "
        "the rest are refused at once (%(default)s)",
    )
    group.add_argument(
        "--quota-per-second",
        type=float,
        default=0.0,
        metavar="N",
        help="hard quota of ECS API calls per clock second, 429 above it (0 = none)",
    )


def _api_memory_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--token-window-seconds",
        dest="token_ttl_seconds",
        type=float,
        default=8 * 3600.0,
        metavar="S",
        help="how long the API remembers an X-Client-Token; later it answers Ecs.0124 "
        "(%(default)s)",
    )
    group.add_argument(  # the option's first name, kept for scripts that use it
        "--token-ttl-seconds", dest="token_ttl_seconds", type=float, help=argparse.SUPPRESS
    )
    group.add_argument(
        "--list-lag-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="the server list is eventually consistent: a new server is missing from it for "
        "this long (%(default)s)",
    )
    group.add_argument(
        "--allow-field",
        type=_extra_field,
        action="append",
        default=[],
        metavar="PATH",
        help="accept this create-body field of a newer API, e.g. server.new_field (repeatable)",
    )


def _extra_field(text: str) -> str:
    try:
        parse_extra_fields((text,))
    except ExtraFieldError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def credentials_from(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, str]:
    """The AK/SK pairs of the file, the environment and ``--credential``, in that order;
    ValueError naming the source of a malformed entry (never the entry: it holds a secret)."""
    sources: list[tuple[str, list[str]]] = []
    if args.credentials_file is not None:
        lines = args.credentials_file.read_text(encoding="utf-8").splitlines()
        sources.append((str(args.credentials_file), [line.split("#", 1)[0] for line in lines]))
    sources.append((CREDENTIALS_ENV, environ.get(CREDENTIALS_ENV, "").split(",")))
    pairs: dict[str, str] = {}
    for where, entries in sources:
        for number, entry in enumerate(entries, 1):
            if not entry.strip():
                continue
            try:
                access_key, secret = _pair(entry.strip())
            except argparse.ArgumentTypeError:
                raise ValueError(f"{where}: entry {number} is not AK:SK") from None
            pairs[access_key] = secret
    return pairs | dict(args.credential)


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> SimulatorConfig:
    """The simulator configuration the parsed command line (and the credentials' file and
    environment variable) describes; ValueError for a malformed credential entry."""
    return SimulatorConfig(
        admin_routes=args.admin_routes,
        credentials=credentials_from(args, os.environ if environ is None else environ),
        iam_users=dict(args.iam_user),
        job_seconds=args.job_seconds,
        seed=args.seed,
        token_ttl_seconds=args.token_ttl_seconds,
        extra_fields=tuple(args.allow_field),
        list_lag_seconds=max(0.0, args.list_lag_seconds),
        faults=Faults(
            error_rate=args.error_rate,
            throttle_rate=args.throttle_rate,
            drop_rate=args.drop_rate,
            latency_ms=args.latency_ms,
            job_failure_rate=args.job_failure_rate,
            partial_failure_rate=args.partial_failure_rate,
            quota_per_second=args.quota_per_second,
            sold_out=tuple(args.sold_out),
            sold_out_job_rate=args.sold_out_job_rate,
            quota_exceeded=tuple(args.quota_exceeded),
        ),
    )


async def _serve(config: SimulatorConfig, host: str, port: int) -> None:
    # Imported here: the app needs aiohttp's server side, which no other command loads.
    from worker.simulator.app import make_app
    from worker.simulator.serving import serving

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serving(make_app(config), host, port) as base_url:
        structlog.get_logger("simulator").info(
            "simulator listening",
            url=base_url,
            access_keys=len(config.credentials),
            admin_routes=config.admin_routes,
            iam_users=len(config.iam_users),
            job_seconds=list(config.job_seconds),
            seed=config.seed,
        )
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; 0 on a clean stop, 2 without any credential (or with an
    unreadable or malformed one)."""
    try:
        config = config_from_args(args)
    except (OSError, ValueError) as exc:
        print(f"simulator: credentials: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if not config.credentials and not config.iam_users:
        print(
            f"simulator: give at least one --credential, --credentials-file, ${CREDENTIALS_ENV} "
            "or --iam-user",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    try:
        asyncio.run(_serve(config, args.host, args.port))
    except OSError as exc:
        print(f"simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.OK
