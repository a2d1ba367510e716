"""The Kafka checks: the brokers answer, each configured topic exists with its cleanup policy and
room for the worker's events, and the configured user may do with them what the worker does.

Topics are asked for by name with Metadata version 8 (`kafka_metadata`), which creates none and
reports the user's authorized operations; cleanup policy and `max.message.bytes` come from the
topics' configurations; the group's access from reading its committed offsets. Every broker
call is bounded by `KAFKA_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import GroupAuthorizationFailedError, KafkaError

from ecsp_contract.channels import CHANNELS, Channel
from worker.consumer.kafka import security_options
from worker.doctor import kafka_metadata
from worker.doctor.checklist import Check, failed, passed, skipped
from worker.doctor.kafka_metadata import TopicMetadata
from worker.ops.settings import Settings

KAFKA_SECONDS = 20.0
_REQUEST_TIMEOUT_MS = 10_000
_UNKNOWN_TOPIC = 3
_TOPIC_NOT_AUTHORIZED = 29
_STRIMZI = "deploy/k8s/components/strimzi"


@dataclass(frozen=True)
class Topic:
    """A topic the worker uses: its channel, name and what the worker does with it."""

    channel: Channel
    name: str

    @property
    def needs(self) -> frozenset[str]:
        verb = "Read" if CHANNELS[self.channel].inbound else "Write"
        return frozenset({verb, "Describe"})

    @property
    def compacted(self) -> bool:
        return CHANNELS[self.channel].compacted


def topics_of(settings: Settings) -> list[Topic]:
    """The configured topics (an empty name turns a channel off)."""
    return [Topic(c, settings.topic(c)) for c in CHANNELS if settings.topic(c)]


async def kafka_checks(settings: Settings) -> list[Check]:
    """Connection, one check per topic, permissions (the later ones skipped if Kafka is down)."""
    topics = topics_of(settings)
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "request_timeout_ms": _REQUEST_TIMEOUT_MS,
        **security_options(settings),
    }
    admin = AIOKafkaAdminClient(**options)
    client = AIOKafkaClient(client_id="ecs-provisioner-doctor", **options)
    async with contextlib.AsyncExitStack() as clients:
        clients.push_async_callback(admin.close)  # before start: a failed start is cleaned too
        clients.push_async_callback(client.close)
        try:
            async with asyncio.timeout(KAFKA_SECONDS):
                await admin.start()
                cluster = await admin.describe_cluster()
                await client.bootstrap()
                described = await kafka_metadata.describe(client, [t.name for t in topics])
        except (KafkaError, OSError, TimeoutError) as exc:
            return [
                _unreachable(settings, exc),
                *(skipped(f"topic {t.channel}", "Kafka is not reachable") for t in topics),
                skipped("kafka permissions", "Kafka is not reachable"),
            ]
        connected = passed(
            "kafka",
            f"{settings.kafka_bootstrap_servers}: {len(cluster['brokers'])} broker(s), "
            f"cluster {cluster['cluster_id']} ({settings.kafka_security_protocol})",
        )
        configs = await _configs(admin, [n for n, m in described.items() if m.error_code == 0])
        topic_checks = [
            _topic(settings, t, described.get(t.name), configs.get(t.name)) for t in topics
        ]
        permissions = await _permissions(admin, settings, topics, described)
    return [connected, *topic_checks, permissions]


def _unreachable(settings: Settings, exc: BaseException) -> Check:
    reason = f"no answer within {KAFKA_SECONDS:g}s" if isinstance(exc, TimeoutError) else str(exc)
    if not reason.startswith(type(exc).__name__):  # aiokafka's errors start with their name
        reason = f"{type(exc).__name__}: {reason}"
    return failed(
        "kafka",
        f"{settings.kafka_bootstrap_servers}: {reason}",
        "start the broker or point ECSP_KAFKA_BOOTSTRAP_SERVERS at one reachable from here "
        "(`make run` / deploy/local/kafka.sh start); with TLS or SASL check "
        "ECSP_KAFKA_SECURITY_PROTOCOL, ECSP_KAFKA_CA_FILE and ECSP_KAFKA_SASL_*",
    )


async def _configs(admin: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each topic's effective configuration (name -> value), for the topics whose configuration
    this user may read (DescribeConfigs; the worker itself does not need it)."""
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    try:
        async with asyncio.timeout(KAFKA_SECONDS):
            responses = await admin.describe_configs(resources)
    except (KafkaError, TimeoutError):
        return {}
    found: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"] != 0:
                continue
            entries = resource["config_entries"]
            found[resource["resource_name"]] = {
                e["config_names"]: e["config_value"] for e in entries if not e["is_sensitive"]
            }
    return found


def _topic(
    settings: Settings,
    topic: Topic,
    metadata: TopicMetadata | None,
    config: dict[str, str] | None,
) -> Check:
    name = f"topic {topic.channel}"
    spec = CHANNELS[topic.channel]
    if metadata is None or metadata.error_code == _UNKNOWN_TOPIC:
        create = (
            f"kafka-topics.sh --bootstrap-server {settings.kafka_bootstrap_servers} --create "
            f"--topic {topic.name} --partitions {spec.partitions}"
        )
        if topic.compacted:
            create += " --config cleanup.policy=compact"
        return failed(
            name,
            f"{topic.name}: does not exist",
            f"create it ({_STRIMZI}/kafkatopics.yaml declares it): {create}; or set "
            f"ECSP_TOPIC_{topic.channel.upper()} to the topic's name",
        )
    if metadata.error_code == _TOPIC_NOT_AUTHORIZED:
        return failed(
            name,
            f"{topic.name}: this user may not even describe it",
            f"grant the worker's Kafka user {' + '.join(sorted(topic.needs))} on it "
            f"({_STRIMZI}/kafkauser.yaml)",
        )
    count = metadata.partitions
    detail = f"{topic.name}: {count} partition{'' if count == 1 else 's'}"
    if config is None:  # the cleanup policy and size limit cannot be judged
        return passed(name, f"{detail}; its configuration is not readable by this user")
    policy = config.get("cleanup.policy", "delete")
    detail += f", cleanup.policy={policy}"
    if topic.compacted and "compact" not in policy.split(","):
        return failed(
            name,
            detail,
            "a state topic must be compacted, or it grows with every event and `status` reads "
            "ever more: kafka-configs.sh --bootstrap-server "
            f"{settings.kafka_bootstrap_servers} --alter --entity-type topics --entity-name "
            f"{topic.name} --add-config cleanup.policy=compact",
        )
    limit = int(config.get("max.message.bytes", "0") or 0)
    if not spec.inbound and 0 < limit < settings.max_event_bytes:
        return failed(
            name,
            f"{detail}, max.message.bytes={limit} < "
            f"ECSP_MAX_EVENT_BYTES={settings.max_event_bytes}",
            f"raise the topic's max.message.bytes to at least {settings.max_event_bytes}, or "
            "lower ECSP_MAX_EVENT_BYTES (larger events would be cut to their minimal form or "
            "refused)",
        )
    return passed(name, detail)


async def _permissions(
    admin: AIOKafkaAdminClient,
    settings: Settings,
    topics: Sequence[Topic],
    described: dict[str, TopicMetadata],
) -> Check:
    name = "kafka permissions"
    lacking = []
    reported = False
    for topic in topics:
        metadata = described.get(topic.name)
        if metadata is None or metadata.error_code != 0 or metadata.operations is None:
            continue  # missing or undescribable: its topic check says so
        reported = True
        if missing := sorted(topic.needs - metadata.operations):
            lacking.append(f"{'+'.join(missing)} on topic {topic.name}")
    unchecked = ""
    try:
        async with asyncio.timeout(KAFKA_SECONDS):
            await admin.list_consumer_group_offsets(settings.group_id)
    except GroupAuthorizationFailedError:
        lacking.append(f"Read+Describe on group {settings.group_id}")
    except (KafkaError, TimeoutError) as exc:
        unchecked = f"; group {settings.group_id} not checked ({type(exc).__name__})"
    if lacking:
        return failed(
            name,
            "this user lacks " + "; ".join(lacking),
            f"grant the worker's Kafka user those ACLs ({_STRIMZI}/kafkauser.yaml lists them)",
        )
    scope = "as the broker reports them" if reported else "the broker reported none"
    return passed(
        name,
        f"read the requests topic and group {settings.group_id}, write the event topics "
        f"({scope}){unchecked}",
    )
