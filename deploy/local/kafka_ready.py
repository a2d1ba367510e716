"""Readiness probe of the local test broker: succeeds once a real aiokafka client reads metadata.

Used by deploy/local/kafka.sh (``start``) when a Python with aiokafka is available; it owns only
the question "does the broker at host:port answer a metadata request listing a broker?".
Exit 0 when it does, 1 when it still does not at the deadline.

    python kafka_ready.py 127.0.0.1:9092 --timeout 10
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient

ATTEMPT_TIMEOUT_S = 5.0
RETRY_PAUSE_S = 0.3


async def describe_once(bootstrap: str) -> str | None:
    """One bounded metadata round trip; a summary line when a broker is listed, else None."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(ATTEMPT_TIMEOUT_S * 1000),
        client_id="local-kafka-ready",
    )
    try:
        async with asyncio.timeout(ATTEMPT_TIMEOUT_S):
            await admin.start()
            cluster = await admin.describe_cluster()
    except Exception:  # any failure means "not ready yet"; the caller retries until its deadline
        return None
    finally:
        await admin.close()
    brokers = cluster.get("brokers") or []
    if not brokers:
        return None
    return (
        f"cluster {cluster.get('cluster_id')}: {len(brokers)} broker(s), "
        f"controller {cluster.get('controller_id')}"
    )


async def wait_ready(bootstrap: str, timeout_s: float) -> str | None:
    """Retry `describe_once` until it succeeds or `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        summary = await describe_once(bootstrap)
        if summary is not None or time.monotonic() >= deadline:
            return summary
        await asyncio.sleep(RETRY_PAUSE_S)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: print the cluster summary and exit 0 once ready, else exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap", help="host:port of the broker's client listener")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to keep trying")
    args = parser.parse_args(argv)
    # aiokafka logs every refused connection at ERROR while the broker boots; that is expected.
    logging.basicConfig(level=logging.CRITICAL)
    summary = asyncio.run(wait_ready(args.bootstrap, args.timeout))
    if summary is None:
        print(f"no metadata from {args.bootstrap} within {args.timeout:g}s", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
