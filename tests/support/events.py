"""What tests expect of event ids: the outcome's id as `ecsp_contract.cloudevent` defines it."""

from __future__ import annotations

import hashlib

from ecsp_contract.cloudevent import CloudEvent, event_id
from ecsp_contract.events import EVENT_DATA_MODELS


def expected_event_id(event: CloudEvent, value: bytes | None) -> str:
    """The id `event` must carry as the answer to a record whose value is `value`: its data's
    outcome, scoped by its token (or record), with the digest of the value."""
    data = EVENT_DATA_MODELS[event.type].model_validate(event.data)
    digest = None if value is None else hashlib.sha256(value).hexdigest()
    return event_id(data, event.type, digest)
