"""Generation of the checked-in contract files: JSON Schemas and the AsyncAPI 3.0 document.

Owns `render()` (every file's path and text, from the models), `export()` (writes them) and
`check()` (names the checked-in files that differ from the models). Run
`python -m ecsp_contract.export` to regenerate, `python -m ecsp_contract.export --check` to verify.
Rendering the AsyncAPI document needs PyYAML (the `export` extra of the distribution); the rest
of the contract needs pydantic only.

Files (under the package directory, `schemas/ecsp_contract/`):
- `json/ecs.provisioning.request.schema.json`: the request body (the value on the requests topic);
- `json/<event type>.schema.json`: the `data` of each event type; its `$id` is the event's
  `dataschema`;
- `json/cloudevent.schema.json`: the CloudEvents 1.0 structured-mode envelope;
- `asyncapi.yaml`: servers, topics with their Kafka bindings (key schema, consumer group,
  partitions, the state topic's `cleanup.policy=compact`), headers (with the W3C trace context),
  messages with examples (every example request, one event of each type).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ecsp_contract.channels import CHANNELS, DEFAULT_GROUP_ID, ChannelSpec, channel_of
from ecsp_contract.cloudevent import CONTENT_TYPE, DATA_CONTENT_TYPE, SCHEMA_VERSION, dataschema_uri
from ecsp_contract.event_examples import REQUEST_TRACEPARENT, TRACESTATE, example_event
from ecsp_contract.events import EVENT_DATA_MODELS, EVENT_TYPE_DOCS, EventType
from ecsp_contract.failures import WorkerErrorCode
from ecsp_contract.limits import MAX_HEADER_BYTES, MAX_KEY_BYTES
from ecsp_contract.placement import MAX_FALLBACKS_HEADER_BYTES
from ecsp_contract.request import CreateServersBody
from ecsp_contract.tenants import MAX_TENANT_NAME_LENGTH, tenant_topic

PACKAGE_DIR = Path(__file__).resolve().parent
EXAMPLES_DIR_NAME = "examples"
#: The examples of the API reference ("Creating an ECS", v1.1), as it prints them; the other
#: files of `examples/` are the project's own (06: allowed by the shipped guardrails policy).
REFERENCE_EXAMPLES = frozenset(
    {
        "01-prepaid-keypair",
        "02-prepaid-password",
        "03-prepaid-traffic-eip",
        "04-prepaid-shared-bandwidth",
        "05-dry-run",
    }
)
JSON_DIR_NAME = "json"
ASYNCAPI_NAME = "asyncapi.yaml"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REQUEST_NAME = "ecs.provisioning.request"
ENVELOPE_NAME = "cloudevent"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$"


def schema_file_name(name: str) -> str:
    """`ecs.provisioning.failed` -> `ecs.provisioning.failed.schema.json`."""
    return f"{name}.schema.json"


def request_schema() -> dict[str, Any]:
    """JSON Schema of the request body (validation mode: what a publisher may send)."""
    schema = CreateServersBody.model_json_schema(by_alias=True, mode="validation")
    return _document(REQUEST_NAME, schema)


def event_data_schema(event_type: EventType) -> dict[str, Any]:
    """JSON Schema of the `data` of `event_type` (serialization mode: what the worker sends)."""
    model = EVENT_DATA_MODELS[event_type]
    schema = model.model_json_schema(mode="serialization")
    schema["description"] = _event_summary(event_type)
    return _document(event_type.value, schema)


def _event_summary(event_type: EventType) -> str:
    return f"{EVENT_TYPE_DOCS[event_type]} Published on the {channel_of(event_type)} topic."


def envelope_schema() -> dict[str, Any]:
    """JSON Schema of the CloudEvents 1.0 envelope as the worker writes it."""
    schema: dict[str, Any] = {
        "title": "CloudEvent",
        "description": (
            f"CloudEvents 1.0, structured mode ({CONTENT_TYPE}). id identifies the outcome: "
            'uuid5(client_token, "{type}#{fingerprint}"), the fingerprint being the SHA-256 of '
            "the outcome's stable fields (project, SHA-256 of the request value, stage, error "
            "code, job/order id, sorted server ids, reconciled, compensation's server ids); "
            "scoped by uuid5(NAMESPACE_URL, "
            '"kafka://{topic}/{partition}/{offset}") instead of the token when the request had '
            "no key. Same record, same outcome: same id; another outcome: another id."
        ),
        "type": "object",
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid"},
            "source": {"type": "string", "minLength": 1},
            "type": {"enum": [event_type.value for event_type in EventType]},
            "subject": {"type": "string", "minLength": 1, "description": "The request key."},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": DATA_CONTENT_TYPE},
            "dataschema": {"type": "string", "format": "uri"},
            "traceparent": {
                "type": "string",
                "description": (
                    "CloudEvents distributed-tracing extension: the W3C traceparent of the "
                    "worker's span that published the event (with tracing off, the request's)."
                ),
            },
            "tracestate": {
                "type": "string",
                "description": "CloudEvents distributed-tracing extension: the W3C tracestate.",
            },
            "data": {"type": "object"},
        },
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "datacontenttype",
            "dataschema",
            "data",
        ],
    }
    return _document(ENVELOPE_NAME, schema)


TENANT = "tenant"
TENANT_CHANNEL_NOTE = (
    " A tenant's own topic: the shared topic's name with the tenant's appended. Only the "
    "tenant's Kafka user may write its request topic and read its event topics; the worker takes "
    "the topic a request came from as the tenant's identity, answers it on the tenant's topics "
    "only, and allows only the tenant's projects, secrets and token namespace."
)


def _channels_and_operations() -> tuple[dict[str, Any], dict[str, Any]]:
    """A channel per topic with its messages, and the worker's operation on it: the shared
    topic's, then a tenant's (`<channel>-tenant`, its address parameterised by the name)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel, spec in CHANNELS.items():
        names = [REQUEST_NAME] if spec.inbound else [t.value for t in spec.event_types]
        for channel_id, tenant in ((channel.value, False), (f"{channel.value}-{TENANT}", True)):
            channels[channel_id] = _channel(spec, names, tenant=tenant)
            action = "receive" if spec.inbound else "send"
            operations[f"{action}-{channel_id}"] = _operation(action, channel_id, names)
    return channels, operations


def _channel(spec: ChannelSpec, names: list[str], *, tenant: bool) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": tenant_topic(spec.default_topic, f"{{{TENANT}}}")
        if tenant
        else spec.default_topic,
        "description": spec.description
        + (TENANT_CHANNEL_NOTE if tenant else " The topic name is configurable."),
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
        "bindings": {"kafka": _topic_binding(spec, tenant=tenant)},
    }
    if tenant:
        channel["parameters"] = {TENANT: _tenant_parameter()}
    return channel


def _operation(action: str, channel_id: str, names: list[str]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel_id}"},
        "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in names],
    }
    if action == "receive":
        operation["bindings"] = {
            "kafka": {
                "groupId": {
                    "type": "string",
                    "const": DEFAULT_GROUP_ID,
                    "description": "The worker's consumer group (ECSP_GROUP_ID).",
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        }
    return operation


def _components() -> dict[str, Any]:
    """Messages, security scheme and shared schemas the channels refer to."""
    messages: dict[str, Any] = {REQUEST_NAME: _request_message()}
    for event_type in EventType:
        messages[event_type.value] = _event_message(event_type)
    return {
        "securitySchemes": {
            "scramSha512": {
                "type": "scramSha512",
                "description": (
                    "SASL SCRAM-SHA-512 over TLS (ECSP_KAFKA_SASL_*), e.g. the KafkaUser of "
                    "deploy/k8s/components/strimzi."
                ),
            }
        },
        "messages": messages,
        "schemas": {
            "requestHeaders": _headers(with_project=True),
            "eventHeaders": _headers(with_project=False),
            "workerErrorCodes": {
                "type": "string",
                "description": "error.code values the worker detects itself.",
                "enum": [code.value for code in WorkerErrorCode],
                "x-descriptions": {code.value: code.meaning for code in WorkerErrorCode},
            },
        },
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 description of the worker's topics, keys, headers and messages."""
    channels, operations = _channels_and_operations()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "ecs-provisioner",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": (
                "Event-driven provisioning of Huawei Cloud ECS servers. Publish a create body "
                "on the requests topic, keyed by a request key; the worker creates the servers "
                "idempotently (X-Client-Token = uuid5(namespace, key)) and publishes CloudEvents "
                "keyed by the same key. Messages with the same key are processed in order."
            ),
        },
        "defaultContentType": DATA_CONTENT_TYPE,
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": _components(),
    }


def render() -> dict[Path, str]:
    """Every exported file (path relative to the package directory) and its exact text."""
    documents = {REQUEST_NAME: request_schema(), ENVELOPE_NAME: envelope_schema()}
    for event_type in EventType:
        documents[event_type.value] = event_data_schema(event_type)
    files = {
        Path(JSON_DIR_NAME, schema_file_name(name)): _json_text(document)
        for name, document in documents.items()
    }
    import yaml  # only the exporter needs it: publishers install the contract without PyYAML

    files[Path(ASYNCAPI_NAME)] = yaml.safe_dump(
        asyncapi_document(), sort_keys=False, allow_unicode=True, width=100
    )
    return files


def export(root: Path = PACKAGE_DIR) -> list[Path]:
    """Write every exported file under `root`; return the paths written."""
    written = []
    for relative, text in render().items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check(root: Path = PACKAGE_DIR) -> list[str]:
    """Names (relative to `root`) of files that are missing, differ from the models, or are
    unexpected in the JSON directory; empty when everything is up to date."""
    expected = render()
    stale = []
    for relative, text in expected.items():
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(str(relative))
    json_dir = root / JSON_DIR_NAME
    if json_dir.is_dir():
        for path in sorted(json_dir.glob("*.json")):
            relative = path.relative_to(root)
            if relative not in expected:
                stale.append(f"{relative} (not generated by the models)")
    return stale


def _document(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    _drop_null_defaults(schema)
    schema.pop("title", None)
    return {"$schema": DIALECT, "$id": dataschema_uri(name), "title": name, **schema}


def _drop_null_defaults(node: Any) -> None:
    """Remove `"default": null` from optional properties: absent means "not sent", not null."""
    if isinstance(node, dict):
        if node.get("default", 0) is None:
            del node["default"]
        for value in node.values():
            _drop_null_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_null_defaults(value)


def _json_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _headers(*, with_project: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if with_project:
        properties["ecs-project-id"] = {
            "type": "string",
            "maxLength": MAX_HEADER_BYTES,
            "description": (
                "Project to create in. Without it, the default project of the topic's tenant "
                "(on the shared topic ECSP_ECS_PROJECT_ID); with it, one of the tenant's "
                "projects (on the shared topic the default one or one in "
                "ECSP_ECS_PROJECT_ALLOWLIST), else the request fails at validate with "
                "ECSP.ProjectNotAllowed (no fallback to the default)."
            ),
        }
        properties["ecs-on-partial-failure"] = {
            "type": "string",
            "examples": ["keep", "delete"],
            "description": (
                "keep or delete (any case): what to do with the servers a failed job did "
                "create; without it, ECSP_ON_PARTIAL_FAILURE (keep). Any other value fails the "
                "request at validate (ECSP.InvalidRequest)."
            ),
        }
        properties["ecs-fallbacks"] = {
            "type": "string",
            "maxLength": MAX_FALLBACKS_HEADER_BYTES,
            "examples": ["@ap-southeast-1b,c7.large.2@ap-southeast-1c"],
            "description": (
                "Placements to try, in order, when the body's own flavor or zone is sold out: "
                "a comma list of at most 10 FLAVOR@ZONE, FLAVOR or @ZONE. Invalid syntax fails "
                "the request at validate (ECSP.InvalidRequest); every placement sold out fails "
                "it with ECSP.CapacityExhausted (retryable). See docs/placement.md."
            ),
        }
        properties["content-type"] = {
            "type": "string",
            "description": f"Ignored by the worker; {DATA_CONTENT_TYPE} recommended.",
        }
    else:
        properties["content-type"] = {"type": "string", "const": CONTENT_TYPE}
    if with_project:
        traceparent = (
            "W3C trace context of the publisher's span; the worker's spans continue it and its "
            "events carry it on. Ignored when it is not W3C trace context."
        )
        tracestate = "W3C tracestate, kept beside a valid traceparent (at most 512 characters)."
    else:
        traceparent = (
            "W3C trace context of the worker's span that published the event (with tracing "
            "off, the request's); the same value as the CloudEvents traceparent attribute."
        )
        tracestate = "W3C tracestate; the same value as the CloudEvents tracestate attribute."
    properties["traceparent"] = {
        "type": "string",
        "pattern": TRACEPARENT_PATTERN,
        "description": traceparent,
    }
    properties["tracestate"] = {"type": "string", "maxLength": 512, "description": tracestate}
    return {"type": "object", "properties": properties}


def _servers() -> dict[str, Any]:
    return {
        "production": {
            "host": "kafka-bootstrap.kafka.svc:9093",
            "protocol": "kafka-secure",
            "description": (
                "The brokers of deploy/k8s/overlays/prod (ECSP_KAFKA_BOOTSTRAP_SERVERS; with "
                "Strimzi, my-cluster-kafka-bootstrap.kafka.svc:9093)."
            ),
            "security": [{"$ref": "#/components/securitySchemes/scramSha512"}],
        },
        "local": {
            "host": "127.0.0.1:9092",
            "protocol": "kafka",
            "description": "The PLAINTEXT broker of deploy/local/kafka.sh (make run, make test).",
        },
    }


def _request_examples() -> list[dict[str, Any]]:
    examples = []
    for path in sorted((PACKAGE_DIR / EXAMPLES_DIR_NAME).glob("*.json")):
        whose = "The API reference's" if path.stem in REFERENCE_EXAMPLES else "The project's"
        examples.append(
            {
                "name": path.stem,
                "summary": f"{whose} example {path.stem}, keyed ticket-{path.stem}.",
                "headers": {"traceparent": REQUEST_TRACEPARENT, "tracestate": TRACESTATE},
                "payload": json.loads(path.read_text(encoding="utf-8")),
            }
        )
    return examples


def _event_example(event_type: EventType) -> dict[str, Any]:
    event = example_event(event_type)
    return {
        "name": event_type.value.rsplit(".", 1)[-1],
        "summary": f"Keyed {event.subject}, answering the request at its origin.",
        "headers": {
            "content-type": CONTENT_TYPE,
            "traceparent": event.traceparent,
            "tracestate": event.tracestate,
        },
        "payload": event.to_dict(),
    }


def _tenant_parameter() -> dict[str, Any]:
    return {
        "description": (
            f"The tenant's name (ECSP_TENANTS_FILE): 1 to {MAX_TENANT_NAME_LENGTH} lower-case "
            "letters and digits in groups joined by single hyphens."
        ),
        "examples": ["team-a"],
    }


def _topic_binding(spec: ChannelSpec, *, tenant: bool = False) -> dict[str, Any]:
    """The channel's Kafka binding: topic, partitions and, for a compacted view, its policy (a
    tenant's channel: its policy only; its topic is the address, its partitions its own)."""
    binding: dict[str, Any] = {}
    if not tenant:
        binding = {"topic": spec.default_topic, "partitions": spec.partitions}
    if spec.compacted:
        binding["topicConfiguration"] = {"cleanup.policy": ["compact"]}
    binding["bindingVersion"] = KAFKA_BINDING_VERSION
    return binding


def _kafka_key(description: str, *, max_bytes: int, nullable: bool = False) -> dict[str, Any]:
    key_type: str | list[str] = ["string", "null"] if nullable else "string"
    return {
        "kafka": {
            "key": {
                "type": key_type,
                "minLength": 1,
                "description": f"{description} At most {max_bytes} bytes of UTF-8.",
            },
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _request_message() -> dict[str, Any]:
    return {
        "name": REQUEST_NAME,
        "title": "Create servers request",
        "summary": "The v1.1 create-servers body; adminPass may be a $NAME secret reference.",
        "contentType": DATA_CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/requestHeaders"},
        "payload": {"$ref": f"./{JSON_DIR_NAME}/{schema_file_name(REQUEST_NAME)}"},
        "bindings": _kafka_key(
            "Request key (UTF-8, required). The same key always yields the same client token, "
            "so a re-published request never creates a second server.",
            max_bytes=MAX_KEY_BYTES,
        ),
        "examples": _request_examples(),
    }


def _event_message(event_type: EventType) -> dict[str, Any]:
    description = _event_summary(event_type)
    if event_type is EventType.FAILED:
        description += " Worker error codes: " + "; ".join(
            f"{code.value}: {code.meaning}" for code in WorkerErrorCode
        )
    data_ref = f"./{JSON_DIR_NAME}/{schema_file_name(event_type.value)}"
    return {
        "name": event_type.value,
        "title": event_type.value,
        "summary": _event_summary(event_type),
        "description": description,
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/eventHeaders"},
        "payload": {
            "allOf": [
                {"$ref": f"./{JSON_DIR_NAME}/{schema_file_name(ENVELOPE_NAME)}"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type.value},
                        "dataschema": {"const": dataschema_uri(event_type.value)},
                        "data": {"$ref": data_ref},
                    },
                },
            ]
        },
        "bindings": _kafka_key(
            "The request key of the request this event is about (null if it had none).",
            nullable=event_type is EventType.FAILED,
            max_bytes=MAX_KEY_BYTES,
        ),
        "examples": [_event_example(event_type)],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ecsp_contract.export [--check]`: regenerate, or list stale files (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m ecsp_contract.export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = check()
        for name in stale:
            print(f"stale: {name} (run `python -m ecsp_contract.export`)", file=sys.stderr)
        return 1 if stale else 0
    for path in export():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
