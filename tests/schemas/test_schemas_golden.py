"""Byte-stability: the token and the API body sent for a key are those of the release before.

`golden/api-bodies.json` was written by the release before issue 10 (main at ae34875) from 86
bodies that release accepted: the reference's five examples, one body with every field it knew,
and 80 generated bodies, each with its keys shuffled (the order sent is the models' field order,
not the publisher's). For each: the request key, its X-Client-Token and the exact JSON bytes the
worker sent to the API. A redelivery across an upgrade must send the same bytes with the same
token, or the API answers Ecs.0122. The file is data: never regenerate it.

Seven of those bodies break a rule the API documents and the release before did not enforce
(issue 10, "under-strict"); they are refused now, each for the rule named here.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from worker.pipeline.failure import StageFailure
from worker.pipeline.identity import identify
from worker.pipeline.port import InboundMessage
from worker.pipeline.tenant import Tenant
from worker.pipeline.validate import validate

GOLDEN = json.loads((Path(__file__).parent / "golden" / "api-bodies.json").read_text("utf-8"))
NAMESPACE = uuid.UUID("2c583f0f-d3c3-56a4-b688-680fd0fbb1b3")
TENANT = Tenant("default", NAMESPACE, "p", frozenset({"p"}))
NEWLY_REFUSED = {
    # prePaid + key_name (SDK PrePaidServer.metadata)
    "golden-015": "server.metadata.op_svc_userid",
    "golden-033": "server.server_tags[5].key",  # duplicate key (SDK PrePaidServerTag.key)
    "golden-034": "server.server_tags[5].key",
    "golden-053": "server.server_tags[2].key",
    "golden-054": "server.data_volumes[1].metadata",  # with data_image_id (reference, Table 6)
    "golden-066": "server.data_volumes[0].metadata",
    "golden-067": "server.data_volumes[0].metadata",
}
"""Golden key -> the JSON path of the newly enforced rule that refuses it."""


def _message(key: str) -> InboundMessage:
    return InboundMessage(
        topic="t", partition=0, offset=0, key=key.encode(), value=b"{}", headers=(), timestamp_ms=0
    )


def test_the_golden_file_holds_86_bodies() -> None:
    assert len(GOLDEN) == 86
    assert len(GOLDEN) - len(NEWLY_REFUSED) == 79


@pytest.mark.parametrize("case", GOLDEN, ids=[case["key"] for case in GOLDEN])
def test_same_token_and_same_bytes_as_the_release_before(case: dict[str, Any]) -> None:
    identity = identify(_message(case["key"]), namespace=NAMESPACE, default_project="p")
    assert identity.token == case["token"]
    if case["key"] in NEWLY_REFUSED:
        with pytest.raises(StageFailure) as refused:
            validate(identity, case["document"], tenant=TENANT)
        paths = [detail["path"] for detail in refused.value.details or []]
        assert NEWLY_REFUSED[case["key"]] in paths
        return
    decoded = validate(identity, case["document"], tenant=TENANT)
    sent = json.dumps(decoded.wire, separators=(",", ":"), ensure_ascii=False)
    assert sent == case["sent"]
