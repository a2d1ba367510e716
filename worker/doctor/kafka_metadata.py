"""Topic metadata with what the connected user may do: Kafka's Metadata request, version 8.

aiokafka speaks Metadata up to version 5, which neither reports the operations a user is
authorized for (`topic_authorized_operations`, version 8) nor lets a client name topics without
a broker that auto-creates topics creating them (`allow_auto_topic_creation`, sent false here).
This module adds version 8 in aiokafka's own protocol types and asks for the named topics only:
existence, partition count and authorized operations in one round trip.

A broker without an authorizer reports every operation as allowed; one that did not compute
them reports INT32_MIN (`operations` is None then).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int16, Int32, Schema, String

#: Kafka's AclOperation codes, as bits of the authorized-operations field.
OPERATIONS = {3: "Read", 4: "Write", 8: "Describe"}
_NOT_PROVIDED = -(2**31)


class _MetadataResponseV8(Response):  # type: ignore[misc]
    API_KEY = 3
    API_VERSION = 8
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "brokers",
            Array(
                ("node_id", Int32),
                ("host", String("utf-8")),
                ("port", Int32),
                ("rack", String("utf-8")),
            ),
        ),
        ("cluster_id", String("utf-8")),
        ("controller_id", Int32),
        (
            "topics",
            Array(
                ("error_code", Int16),
                ("topic", String("utf-8")),
                ("is_internal", Boolean),
                (
                    "partitions",
                    Array(
                        ("error_code", Int16),
                        ("partition", Int32),
                        ("leader", Int32),
                        ("leader_epoch", Int32),
                        ("replicas", Array(Int32)),
                        ("isr", Array(Int32)),
                        ("offline_replicas", Array(Int32)),
                    ),
                ),
                ("topic_authorized_operations", Int32),
            ),
        ),
        ("cluster_authorized_operations", Int32),
    )


class _MetadataRequestV8(RequestStruct):  # type: ignore[misc]
    API_KEY = 3
    API_VERSION = 8
    RESPONSE_TYPE = _MetadataResponseV8
    SCHEMA = Schema(
        ("topics", Array(String("utf-8"))),
        ("allow_auto_topic_creation", Boolean),
        ("include_cluster_authorized_operations", Boolean),
        ("include_topic_authorized_operations", Boolean),
    )


class _TopicMetadataRequest(Request[_MetadataRequestV8]):  # type: ignore[misc]
    API_KEY = 3

    def __init__(self, topics: Sequence[str]) -> None:
        self._topics = list(topics)

    def build(self, request_struct_class: type[_MetadataRequestV8]) -> _MetadataRequestV8:
        return request_struct_class(self._topics, False, False, True)


@dataclass(frozen=True)
class TopicMetadata:
    """One topic as the broker describes it to this user. `error_code` 0: it exists (3: it
    does not; 29: the user may not describe it)."""

    name: str
    error_code: int
    partitions: int
    operations: frozenset[str] | None


def operations_of(bits: int) -> frozenset[str] | None:
    """The operations of `OPERATIONS` set in an authorized-operations field."""
    if bits == _NOT_PROVIDED:
        return None
    return frozenset(name for code, name in OPERATIONS.items() if bits & (1 << code))


async def describe(client: AIOKafkaClient, topics: Sequence[str]) -> dict[str, TopicMetadata]:
    """The named topics' metadata (none is created), by name. `client` is bootstrapped."""
    response = await client.send(client.get_random_node(), _TopicMetadataRequest(topics))
    described: list[dict[str, Any]] = response.to_object()["topics"]
    return {
        t["topic"]: TopicMetadata(
            t["topic"],
            t["error_code"],
            len(t["partitions"]),
            operations_of(t["topic_authorized_operations"]),
        )
        for t in described
    }
