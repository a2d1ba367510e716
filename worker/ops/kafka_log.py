"""aiokafka's log lines, cut down to what an on-call engineer can live with.

aiokafka logs every failed connection attempt, metadata refresh, fetch and coordinator lookup,
many at ERROR, and retries them every few hundred milliseconds: a routine rolling restart of two
brokers produced ~400 ERROR lines in a minute although nothing was lost. `KafkaClientLogs`, a
filter on aiokafka's loggers, recognises those transient, retried conditions by their message
template and turns them into one WARNING when a Kafka node enters a state ("node 2:
unreachable", "node 2: fetch failed"), repeated at most once per `repeat_seconds` with the number
of lines it held back. A node and state quiet for `quiet_seconds` count as recovered, so the next
failure is reported again. Everything else aiokafka logs (authorisation refused, fatal group errors,
unexpected exceptions) keeps its level: ERROR stays for what needs a human, and so do refused
SASL credentials and untrusted TLS certificates (summarised the same way). The last such
connection problem is kept (`last_connection_problem`) so that a worker that cannot start says
why in one line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

#: The aiokafka loggers whose transient lines are summarised (a filter on a logger does not see
#: its children's records, so each module's logger gets it).
AIOKAFKA_LOGGERS = (
    "aiokafka",  # aiokafka/client.py logs under the package's name
    "aiokafka.client",
    "aiokafka.conn",
    "aiokafka.cluster",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.sender",
)

#: aiokafka's message template -> (state it means, index of the node in the args or None).
TRANSIENT: dict[str, tuple[str, int | None]] = {
    'Unable connect to "%s:%s": %s': ("unreachable", None),
    "Unable connect to node with id %s: %s": ("unreachable", 0),
    'Unable to request metadata from "%s:%s": %s': ("unreachable", None),
    "Unable to request metadata from node with id %s: %r": ("unreachable", 0),
    "Unable to update metadata from %s": ("metadata unavailable", 0),
    "Failed fetch messages from %s: %s": ("fetch failed", 0),
    "Failed fetch offsets from %s: %s": ("offset lookup failed", 0),
    "Group Coordinator Request failed: %s": ("group coordinator unavailable", None),
    "FindCoordinator Request failed: %s": ("transaction coordinator unavailable", None),
    "Heartbeat send request failed: %s. Will retry.": ("group coordinator unavailable", None),
    "Heartbeat session expired - marking coordinator dead": ("group session expired", None),
    "Error sending %s to node %s [%s] -- marking coordinator dead": (
        "group coordinator unavailable",
        1,
    ),
    "Marking the coordinator dead (node %s)for group %s.": ("group coordinator unavailable", 0),
    "Heartbeat failed for group %s: coordinator (node %s) is either not started or not valid": (
        "group coordinator unavailable",
        1,
    ),
    "Heartbeat failed for group %s because it is rebalancing": ("group rebalancing", None),
    "Cannot send %r to %s: %r": ("send failed", 1),
    "Got error produce response: %s": ("produce retried", None),
}


#: Causes of a failed connection that retrying cannot fix: (text in the error, state, advice).
NEEDS_A_HUMAN = (
    ("SaslAuthenticationFailed", "SASL authentication failed",
     "check ECSP_KAFKA_SASL_USERNAME / ECSP_KAFKA_SASL_PASSWORD and ECSP_KAFKA_SASL_MECHANISM"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted",
     "ECSP_KAFKA_CA_FILE must hold the CA that signed the broker's certificate"),
    ("WRONG_VERSION_NUMBER", "TLS handshake failed",
     "the listener does not speak TLS: check ECSP_KAFKA_SECURITY_PROTOCOL and the port"),
    ("UnsupportedSaslMechanism", "SASL mechanism refused",
     "the listener does not offer ECSP_KAFKA_SASL_MECHANISM"),
)  # fmt: skip

_last_problem: list[str] = []


def last_connection_problem() -> str | None:
    """'<node>: <problem> (<advice>)' of the last connection refused for a reason retrying
    cannot fix, or None."""
    return _last_problem[-1] if _last_problem else None


@dataclass
class _Seen:
    reported_at: float
    last_seen: float
    held_back: int = 0


class KafkaClientLogs(logging.Filter):
    """Demotes and summarises aiokafka's transient lines (see the module docstring)."""

    def __init__(
        self,
        *,
        repeat_seconds: float = 60.0,
        quiet_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._repeat = repeat_seconds
        self._quiet = quiet_seconds
        self._clock = clock
        self._seen: dict[tuple[str, str], _Seen] = {}  # (node, state)

    def filter(self, record: logging.LogRecord) -> bool:
        known = TRANSIENT.get(str(record.msg))
        if known is None:
            return True
        state, node_index = known
        args = record.args if isinstance(record.args, tuple) else ()
        node = _node_of(args, node_index, record.msg)
        cause = record.getMessage()
        human = next((h for h in NEEDS_A_HUMAN if h[0] in cause), None)
        if human is not None:
            state = human[1]
            _last_problem[:] = [f"{node}: {human[1]} ({human[2]})"]
        now = self._clock()
        seen = self._seen.get((node, state))
        if seen is not None and now - seen.last_seen >= self._quiet:
            seen = None  # quiet long enough: it had recovered
        if seen is None:
            self._seen[(node, state)] = _Seen(now, now)
            summary = state
        else:
            seen.last_seen = now
            if now - seen.reported_at < self._repeat:
                seen.held_back += 1
                return False
            summary = f"still {state} ({seen.held_back} similar lines held back)"
            seen.reported_at, seen.held_back = now, 0
        record.msg = "kafka %s: %s [%s]"
        record.args = (node, summary, cause)
        if record.levelno > logging.WARNING and human is None:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _node_of(args: tuple[object, ...], index: int | None, template: object) -> str:
    if index is not None and index < len(args):
        return f"node {args[index]}"
    if str(template).startswith(('Unable connect to "', 'Unable to request metadata from "')):
        return f"bootstrap {args[0]}:{args[1]}" if len(args) >= 2 else "bootstrap"
    if "oordinator" in str(template) or "Heartbeat" in str(template):
        return "group coordinator"
    return "cluster"


def install(log_filter: KafkaClientLogs | None = None) -> KafkaClientLogs:
    """Put one filter on every aiokafka logger (replacing an earlier one); return it."""
    chosen = log_filter or KafkaClientLogs()
    for name in AIOKAFKA_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, KafkaClientLogs)]:
            logger.removeFilter(old)
        logger.addFilter(chosen)
    return chosen
