"""The topics of the contract and which event type goes to which: the one routing table.

`CHANNELS` lists each channel (the AsyncAPI channel id) with its default topic name, what it
carries, its recommended partition count and, for the worker's output channels, the event types
published there. `DEFAULT_GROUP_ID` is the worker's consumer group unless configured. The worker's
settings take their topic defaults from it (`ECSP_TOPIC_<CHANNEL>` overrides them), the worker
routes events with `channel_of`, and the AsyncAPI document is generated from it.

The state channel is not a route: it is a compacted view (`cleanup.policy=compact`) holding, per
request key, a copy of the latest event published on the other output channels, so a reader
finds a request's state by reading only its key's partition. `channel_of` never names it.
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
    STATE = "state"


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: default topic, description, recommended partitions, and the event types sent
    on it (none: inbound). The requests topic's partitions bound the useful worker pods.
    `compacted`: a view keyed by request key (`cleanup.policy=compact`) of copies of events
    routed to other channels, not a route of its own."""

    default_topic: str
    description: str
    event_types: tuple[EventType, ...] = ()
    partitions: int = 3
    compacted: bool = False

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
    Channel.STATE: ChannelSpec(
        "ecs.provisioning.state",
        "Each request's latest event (progress or terminal), keyed by its request key, after the "
        "event was published on its own topic; compacted (cleanup.policy=compact), so a key's "
        "partition holds its current state (off when the topic is empty). Keyless requests have "
        "no state.",
        tuple(EventType),
        partitions=12,
        compacted=True,
    ),
}

_CHANNEL_OF = {
    event: channel
    for channel, spec in CHANNELS.items()
    if not spec.compacted
    for event in spec.event_types
}


def channel_of(event_type: EventType) -> Channel:
    """The channel an event of this type is published on."""
    return _CHANNEL_OF[event_type]
