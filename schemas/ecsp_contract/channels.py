"""The topics of the contract and which event type goes to which: the one routing table.

`CHANNELS` lists each channel (the AsyncAPI channel id) with its default topic name, what it
carries, its recommended partition count and, for the worker's output channels, the event types
published there. `DEFAULT_GROUP_ID` is the worker's consumer group unless configured. The worker's
settings take their topic defaults from it (`ECSP_TOPIC_<CHANNEL>` overrides them), the worker
routes events with `channel_of`, and the AsyncAPI document is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ecsp_contract.events import EventType

DEFAULT_GROUP_ID = "ecs-provisioner"
"""The worker's consumer group on the requests topic (`ECSP_GROUP_ID`)."""


class Channel(StrEnum):
    """AsyncAPI channel id; the setting `topic_<value>` names its topic."""

    REQUESTS = "requests"
    RESULTS = "results"
    FAILURES = "failures"
    PROGRESS = "progress"


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: default topic, description, recommended partitions, and the event types sent
    on it (none: inbound). The requests topic's partitions bound the useful worker pods."""

    default_topic: str
    description: str
    event_types: tuple[EventType, ...] = ()
    partitions: int = 3

    @property
    def inbound(self) -> bool:
        return not self.event_types


CHANNELS: dict[Channel, ChannelSpec] = {
    Channel.REQUESTS: ChannelSpec(
        "ecs.provisioning.requests",
        "Create requests: the JSON body of POST /v1.1/{project_id}/cloudservers.",
        partitions=12,
    ),
    Channel.RESULTS: ChannelSpec(
        "ecs.provisioning.results",
        "Successful outcomes: succeeded, or validated for a dry run.",
        (EventType.SUCCEEDED, EventType.VALIDATED),
    ),
    Channel.FAILURES: ChannelSpec(
        "ecs.provisioning.failures",
        "Failed requests, with the stage and the error.",
        (EventType.FAILED,),
    ),
    Channel.PROGRESS: ChannelSpec(
        "ecs.provisioning.progress",
        "Optional progress events: submitted, awaiting_payment (off when the topic is empty).",
        (EventType.SUBMITTED, EventType.AWAITING_PAYMENT),
    ),
}

_CHANNEL_OF = {event: channel for channel, spec in CHANNELS.items() for event in spec.event_types}


def channel_of(event_type: EventType) -> Channel:
    """The channel an event of this type is published on."""
    return _CHANNEL_OF[event_type]
