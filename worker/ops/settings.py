"""The worker's configuration: every setting, its `ECSP_` environment variable, default and meaning.

Settings come from the environment (and optionally a dotenv-style file named by `--config` or
`ECSP_CONFIG_FILE`). Secrets may be given directly or as `…_FILE` paths (Kubernetes secret
mounts), in the environment or in that file; the files are read at start (the ECS credential
files again whenever they change, see `worker.ecs.credentials`). Invalid configuration fails
at start with a message naming the setting (see `load_settings`), and so does an `ECSP_*` name
that is no setting (`worker.ops.setting_names`). The configuration table of
docs/configuration.md is generated from this model (`python -m tools.docgen.config_table`); a test
keeps it in step.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ecsp_contract.channels import CHANNELS, DEFAULT_GROUP_ID, Channel, channel_of
from ecsp_contract.events import EventType
from ecsp_contract.extensions import ExtraField, ExtraFieldError, parse_extra_fields
from ecsp_contract.idempotency import DEFAULT_TOKEN_NAMESPACE
from ecsp_contract.problems import describe
from worker.ecs.endpoints import (
    REGION_PATTERN,
    default_endpoint,
    default_iam_endpoint,
    endpoint_problem,
)
from worker.ops.setting_names import unknown_names

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
CommaList = Annotated[list[str], NoDecode]

#: Secret settings that may also be given as `<NAME>_FILE`, a path whose content is the value.
FILE_BACKED_SECRETS = (
    "kafka_sasl_password",
    "ecs_ak",
    "ecs_sk",
    "ecs_security_token",
    "iam_password",
)


def _topic_of_events(channel: Channel, note: str = "") -> str:
    names = [
        f"`{event_type.removeprefix('ecs.provisioning.')}`"
        for event_type in CHANNELS[channel].event_types
    ]
    return f"Topic of {' and '.join(names)} events{note}."


class ConfigError(Exception):
    """The configuration is invalid; the message names every offending setting."""


class Settings(BaseSettings):
    """All settings of the worker. Field descriptions feed docs/configuration.md's table."""

    model_config = SettingsConfigDict(env_prefix="ECSP_", extra="ignore", frozen=True)

    # Kafka
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, `host:port,…`."
    )
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        "PLAIN", description="SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password (or `ECSP_KAFKA_SASL_PASSWORD_FILE`)."
    )
    kafka_ca_file: Path | None = Field(
        None, description="CA bundle (PEM) for the brokers' TLS certificates."
    )
    group_id: str = Field(DEFAULT_GROUP_ID, description="Kafka consumer group.")
    group_instance_id: str = Field(
        "",
        description="Static group membership id (the pod name): a restarted member gets its "
        "partitions back without a rebalance; empty = dynamic membership.",
    )
    kafka_session_timeout_seconds: float = Field(
        10.0,
        ge=6,
        le=1800,
        description="Consumer session timeout; with static membership, how long a restarting "
        "member's partitions wait for it.",
    )
    topic_requests: str = Field(
        CHANNELS[Channel.REQUESTS].default_topic, description="Request topic (in)."
    )
    topic_results: str = Field(
        CHANNELS[Channel.RESULTS].default_topic, description=_topic_of_events(Channel.RESULTS)
    )
    topic_failures: str = Field(
        CHANNELS[Channel.FAILURES].default_topic, description=_topic_of_events(Channel.FAILURES)
    )
    topic_progress: str = Field(
        CHANNELS[Channel.PROGRESS].default_topic,
        description=_topic_of_events(Channel.PROGRESS, "; empty turns them off"),
    )
    topic_state: str = Field(
        CHANNELS[Channel.STATE].default_topic,
        description="Compacted topic (`cleanup.policy=compact`) of each request's latest event, "
        "keyed by request key, written after the event's own topic: what `status KEY` reads; "
        "empty turns it off.",
    )
    max_event_bytes: int = Field(
        1_048_576,
        ge=16_384,
        description="Largest event record published (also the producer's max request size; "
        "keep it within the event topics' `max.message.bytes`). Larger events are cut.",
    )
    max_request_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request value accepted; larger ones fail (`decode`).",
    )

    # Concurrency and scheduling
    max_in_flight: int = Field(
        500, ge=1, le=100_000, description="Requests held at once per process (fetched, not done)."
    )
    partition_max_pending: int = Field(
        0, ge=0, description="Requests held per partition before it is paused; 0 = max_in_flight."
    )
    resume_ratio: float = Field(
        0.75, gt=0, le=1, description="Paused partitions resume below this share of the limits."
    )
    commit_interval_seconds: float = Field(
        1.0, gt=0, description="How often finished offsets are committed."
    )
    lag_interval_seconds: float = Field(
        10.0, gt=0, description="How often lag is measured from the brokers' high-water marks."
    )
    job_poll_initial_seconds: float = Field(
        5.0, gt=0, description="First job status check after the create returns."
    )
    job_poll_factor: float = Field(2.0, ge=1, description="Growth of the interval between checks.")
    job_poll_max_seconds: float = Field(
        15.0, gt=0, description="Longest interval between two job checks (how late an end is seen)."
    )
    bulk_follow: bool = Field(
        True,
        description=(
            "Follow tagged jobs in bulk: one server list per project wakes a job when its servers"
            " left BUILD; off = every job on the per-job schedule above."
        ),
    )
    bulk_follow_interval_seconds: float = Field(
        5.0, gt=0, description="How often the deployment's building servers are listed."
    )
    bulk_follow_safety_net_seconds: float = Field(
        300.0,
        gt=0,
        description="Under bulk following, a job is still checked on its own at least this often.",
    )
    bulk_follow_unseen_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "A job whose servers were never listed as building is checked once after this long"
            " (a job shorter than the list's delay)."
        ),
    )
    request_deadline_seconds: float = Field(
        14400.0,
        gt=0,
        le=7 * 86400,
        description=(
            "How long a request may wait for the API (outage, throttling) and be followed, counted"
            " from its publish time (record timestamp); past it it fails (`timeout`). Never more"
            " than 8 h after its first create attempt (the token window)."
        ),
    )
    shutdown_grace_seconds: float = Field(
        25.0, ge=0, description="On SIGTERM, how long in-flight requests may finish."
    )
    revoke_grace_seconds: float = Field(
        5.0, ge=0, description="On partition revocation, how long their requests may finish."
    )

    # Delivery (docs/delivery.md)
    delivery: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="`at_least_once`: events acknowledged one by one, offsets committed after"
        " them; `exactly_once`: a partition's events, their state-topic copies and its offsets"
        " in one Kafka transaction (subscribers read with `isolation.level=read_committed`).",
    )
    answered_offsets_map: bool = Field(
        True,
        description="Commits carry the answered records above the committed offset, and a new"
        " owner skips them; off = every record above the offset is replayed (required by"
        " `exactly_once`).",
    )
    offset_metadata_max_bytes: int = Field(
        4096,
        ge=64,
        description="The brokers' `offset.metadata.max.bytes`: a larger map is left out of the"
        " commit (counted); past 75 % of it a partition takes no new records.",
    )
    transaction_timeout_seconds: float = Field(
        60.0,
        ge=1,
        le=900,
        description="`exactly_once`: the brokers abort a transaction open longer than this"
        " (at most their `transaction.max.timeout.ms`).",
    )

    # ECS API
    ecs_region: str = Field(
        "ap-southeast-1", description="Huawei Cloud region (lower-case letters, digits and `-`)."
    )
    ecs_endpoint: str | None = Field(
        None, description="ECS base URL; overrides `https://ecs.{region}.myhuaweicloud.com`."
    )
    ecs_project_id: str = Field(
        "", description="Default project ID (required), used when a request names none."
    )
    ecs_project_allowlist: CommaList = Field(
        default_factory=list,
        description="Comma list of projects a request may name in `ecs-project-id`.",
    )
    allow_insecure_endpoints: bool = Field(
        False,
        description="Accept plain-http ECS/IAM/metadata endpoints on hosts that are not loopback "
        "(a simulator in the cluster); otherwise they must be https (loopback may be http).",
    )
    ecs_ca_file: Path | None = Field(None, description="CA bundle for the ECS/IAM endpoints.")
    ecs_verify_tls: bool = Field(True, description="Verify TLS certificates of the API.")
    auth_mode: Literal["aksk", "token", "metadata"] = Field(
        "aksk",
        description="`aksk`, `token` (IAM) or `metadata` (the instance's agency credentials).",
    )
    ecs_ak: SecretStr | None = Field(
        None, description="Access key (or `ECSP_ECS_AK_FILE`, re-read when it changes)."
    )
    ecs_sk: SecretStr | None = Field(
        None, description="Secret key (or `ECSP_ECS_SK_FILE`, re-read when it changes)."
    )
    ecs_security_token: SecretStr | None = Field(
        None, description="Security token of temporary AK/SK (or `…_FILE`, re-read on change)."
    )
    ecs_metadata_endpoint: str = Field(
        "http://169.254.169.254",
        description="Instance metadata service (`metadata` mode: `/openstack/latest/securitykey`).",
    )
    credential_refresh_seconds: float = Field(
        2400.0,
        gt=0,
        description="Temporary credentials are renewed this long before they expire "
        "(at most half their lifetime).",
    )
    iam_endpoint: str | None = Field(
        None, description="IAM base URL; default `https://iam.{region}.myhuaweicloud.com`."
    )
    iam_domain: str | None = Field(None, description="IAM account (domain) name, token mode.")
    iam_username: str | None = Field(None, description="IAM user name, token mode.")
    iam_password: SecretStr | None = Field(
        None, description="IAM password, token mode (or `ECSP_IAM_PASSWORD_FILE`)."
    )
    # The `…_FILE` forms of the secrets above (listed with them in the configuration table).
    _secrets_from_files: frozenset[str] = PrivateAttr(default=frozenset())
    kafka_sasl_password_file: Path | None = None
    ecs_ak_file: Path | None = None
    ecs_sk_file: Path | None = None
    ecs_security_token_file: Path | None = None
    iam_password_file: Path | None = None
    api_rate_limit: float = Field(
        20.0,
        ge=0,
        description=(
            "Ceiling of API calls per second per process (create + job); throttling (429) lowers"
            " the rate below it, it climbs back slowly. 0 = unlimited, not adaptive."
        ),
    )
    api_rate_increase: float = Field(
        1.0, gt=0, description="Calls/s the adaptive rate climbs back per second without 429s."
    )
    api_burst: int = Field(40, ge=1, description="Token-bucket burst of the rate limit.")
    api_max_attempts: int = Field(8, ge=1, description="Attempts per API call (retryable errors).")
    api_retry_base_seconds: float = Field(0.5, gt=0, description="First retry backoff.")
    api_retry_max_seconds: float = Field(20.0, gt=0, description="Longest retry backoff.")
    api_call_deadline_seconds: float = Field(
        120.0, gt=0, description="Total time one API call may take, retries included."
    )
    api_timeout_seconds: float = Field(30.0, gt=0, description="Timeout of one HTTP attempt.")
    api_connect_timeout_seconds: float = Field(5.0, gt=0, description="TCP/TLS connect timeout.")
    breaker_failure_threshold: int = Field(
        5,
        ge=1,
        description="Outage signals in a row (5xx, no response, timeout) that open the breaker.",
    )
    breaker_probe_initial_seconds: float = Field(
        2.0, gt=0, description="Open breaker: first probe call after this long."
    )
    breaker_probe_max_seconds: float = Field(
        60.0, gt=0, description="Longest wait between probes (the wait doubles per failed probe)."
    )

    # Idempotency, secrets, events
    token_namespace: uuid.UUID = Field(
        DEFAULT_TOKEN_NAMESPACE, description="UUID namespace for X-Client-Token derivation."
    )
    secret_env_prefix: str = Field(
        "ECSP_SECRET_",
        description="`$NAME` in adminPass resolves to env `<prefix>NAME` first; a prefix "
        "reaching the worker's own settings is refused.",
    )
    secret_dir: Path | None = Field(
        None, description="…then to the file `<dir>/NAME` (a Kubernetes secret mount)."
    )
    redact_fields: CommaList = Field(
        default_factory=list, description="Extra request fields masked in event copies."
    )
    include_request: bool = Field(
        True, description="Put the redacted request copy into events (`data.request`)."
    )
    allowed_extra_fields: CommaList = Field(
        default_factory=list,
        description="Create-body fields newer than this release to let through, e.g. "
        "`server.new_field,server.nics[].new_flag`; other unknown fields stay refused.",
    )
    deployment_name: str = Field(
        "ecs-provisioner",
        description="Events' `source` is `ecs-provisioner/<this>`; also the value of the "
        "`ecsp-deployment` tag on every server created.",
    )
    token_window_seconds: float = Field(
        28800.0,
        gt=0,
        description="How long the API remembers an X-Client-Token (8 h); an older record is "
        "first looked up by its token tag.",
    )
    after_token_window: Literal["fail", "recreate"] = Field(
        "fail",
        description="Past the token window with no server found by tag: `fail` "
        "(`token_expired`) or `recreate` once with a token derived from the old one.",
    )
    on_partial_failure: Literal["keep", "delete"] = Field(
        "keep",
        description="A failed job's built servers: `keep` or `delete` them; header "
        "`ecs-on-partial-failure` overrides per request. The first create of a key fixes the "
        "choice (a tag on its servers); a replay cannot change it.",
    )
    allow_partial_failure_header: bool = Field(
        True,
        description="false: a request carrying the `ecs-on-partial-failure` header fails "
        "`validate`; `ECSP_ON_PARTIAL_FAILURE` decides for every request.",
    )
    capacity_cache_seconds: float = Field(
        180.0,
        ge=0,
        description="How long the pod remembers an offering (flavor, zone, charging mode) the "
        "API answered sold out: later requests skip it for their next `ecs-fallbacks` "
        "alternative; 0 remembers nothing.",
    )

    # Guardrails
    policy_file: Path | None = Field(
        None, description="YAML policy file (guardrails); re-read when it changes."
    )
    policy_reload_seconds: float = Field(
        5.0, gt=0, description="How often the policy file is checked for changes."
    )
    policy_budget_window_seconds: float = Field(
        3600.0, gt=0, description="Window of `max_servers_per_hour` (shorten only for tests)."
    )
    policy_budget_parked_per_partition: int = Field(
        20,
        ge=0,
        description="Requests over their project's hourly budget that wait per partition while "
        "it keeps moving for other records (offsets not committed past them); the next one "
        "pauses the partition until one has room. Keep partitions times this well under "
        "`ECSP_MAX_IN_FLIGHT`.",
    )

    # Tenants
    tenants_file: Path | None = Field(
        None,
        description="YAML file of the teams served besides the shared topics, each on topics of "
        "its own (`<topic>.<tenant>`) with its own projects and secrets (docs/security.md); "
        "read at start, an invalid one stops the worker.",
    )

    # Operations
    ops_host: str = Field("0.0.0.0", description="Bind address of the health/metrics server.")
    ops_port: int = Field(8080, ge=0, le=65535, description="Port of /healthz, /readyz, /metrics.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="`json`, `console`, or `auto` (console on a terminal)."
    )
    allowed_unknown_variables: CommaList = Field(
        default_factory=list,
        description="Other `ECSP_*` variables to leave alone (names or patterns such as "
        "`ECSP_MYTOOL_*`); any other name that is no setting stops the worker at start.",
    )

    @field_validator(
        "ecs_project_allowlist",
        "redact_fields",
        "allowed_extra_fields",
        "allowed_unknown_variables",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allowed_extra_fields")
    @classmethod
    def _known_parents(cls, value: list[str]) -> list[str]:
        try:
            parse_extra_fields(tuple(value))
        except ExtraFieldError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("ecs_region")
    @classmethod
    def _region_name(cls, value: str) -> str:
        if not REGION_PATTERN.fullmatch(value):
            raise ValueError("must be a region name: lower-case letters, digits and -")
        return value

    @field_validator("log_level", "kafka_security_protocol", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        problems: list[str] = []
        if self.job_poll_initial_seconds > self.job_poll_max_seconds:
            problems.append(
                "ECSP_JOB_POLL_INITIAL_SECONDS must not exceed ECSP_JOB_POLL_MAX_SECONDS"
            )
        if self.api_retry_base_seconds > self.api_retry_max_seconds:
            problems.append(
                "ECSP_API_RETRY_BASE_SECONDS must not exceed ECSP_API_RETRY_MAX_SECONDS"
            )
        if self.breaker_probe_initial_seconds > self.breaker_probe_max_seconds:
            problems.append(
                "ECSP_BREAKER_PROBE_INITIAL_SECONDS must not exceed ECSP_BREAKER_PROBE_MAX_SECONDS"
            )
        if self.delivery == "exactly_once" and not self.answered_offsets_map:
            problems.append("ECSP_DELIVERY=exactly_once needs ECSP_ANSWERED_OFFSETS_MAP=true")
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_sasl_username and (self.kafka_sasl_password or self.kafka_sasl_password_file)
        ):
            problems.append(
                "ECSP_KAFKA_SASL_USERNAME and ECSP_KAFKA_SASL_PASSWORD are required with SASL"
            )
        problems += self._endpoint_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _endpoint_problems(self) -> list[str]:
        endpoints = (
            ("ECSP_ECS_ENDPOINT", self.ecs_base_url, False),
            ("ECSP_IAM_ENDPOINT", self.iam_url, False),
            ("ECSP_ECS_METADATA_ENDPOINT", self.ecs_metadata_endpoint, True),
        )
        problems = []
        for name, url, link_local in endpoints:
            why = endpoint_problem(
                url, allow_insecure=self.allow_insecure_endpoints, link_local=link_local
            )
            if why is not None:
                problems.append(f"{name}: {url!r} {why}")
        return problems

    def secret_file(self, name: str) -> Path | None:
        """The file secret `name` was read from (to read it again), or None."""
        path: Path | None = getattr(self, f"{name}_file")
        return path if name in self._secrets_from_files else None

    @property
    def ecs_base_url(self) -> str:
        return (self.ecs_endpoint or default_endpoint(self.ecs_region)).rstrip("/")

    @property
    def iam_url(self) -> str:
        """The IAM endpoint (base URL or full token URL; the token client accepts both)."""
        return self.iam_endpoint or default_iam_endpoint(self.ecs_region)

    @property
    def event_source(self) -> str:
        return f"ecs-provisioner/{self.deployment_name}"

    @property
    def partition_limit(self) -> int:
        return self.partition_max_pending or self.max_in_flight

    def extra_fields(self) -> tuple[ExtraField, ...]:
        """The allowed extra fields, parsed (once per distinct setting)."""
        return parse_extra_fields(tuple(self.allowed_extra_fields))

    def allowed_projects(self) -> frozenset[str]:
        return frozenset([self.ecs_project_id, *self.ecs_project_allowlist]) - {""}

    def topic(self, channel: Channel) -> str:
        """The configured topic of a channel (`topic_<channel>`; empty = progress off)."""
        topic: str = getattr(self, f"topic_{channel.value}")
        return topic

    def topic_of(self, event_type: EventType) -> str:
        """Where an event of this type is published (`ecsp_contract.channels` routes it)."""
        return self.topic(channel_of(event_type))


def _unread_secret_file(settings: Settings, name: str) -> Path | None:
    """The `…_FILE` path of secret `name` when it is configured that way (and not directly)."""
    path: Path | None = getattr(settings, f"{name}_file")
    direct: SecretStr | None = getattr(settings, name)
    given = direct is not None and direct.get_secret_value() != ""
    return path if path is not None and not given else None


def with_file_secrets(settings: Settings) -> Settings:
    """`settings` with every secret given as a `…_FILE` path read from that file."""
    values: dict[str, Any] = {}
    for name in FILE_BACKED_SECRETS:
        path = _unread_secret_file(settings, name)
        if path is None:
            continue
        try:
            values[name] = SecretStr(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(
                f"ECSP_{name.upper()}_FILE: cannot read {path}: {exc.strerror}"
            ) from None
    if not values:
        return settings
    read = settings.model_copy(update=values)
    read._secrets_from_files = frozenset(values)
    return read


def settings_env_names() -> frozenset[str]:
    """Every environment variable the worker reads its own settings from."""
    names = {f"ECSP_{name.upper()}" for name in Settings.model_fields}
    names |= {f"ECSP_{name.upper()}_FILE" for name in FILE_BACKED_SECRETS}
    return frozenset({*names, "ECSP_CONFIG_FILE"})


#: Settings a secret prefix may reach: the two that define the references (with the default
#: prefix `ECSP_SECRET_` they are `$ENV_PREFIX` and `$DIR`; `SecretSource` never resolves them).
_REFERENCE_SETTINGS = frozenset({"ECSP_SECRET_ENV_PREFIX", "ECSP_SECRET_DIR"})


def _secret_prefix_problem(prefix: str) -> str | None:
    """Why `$NAME` references under `prefix` could reach the worker's own settings, or None."""
    if not prefix:
        return "ECSP_SECRET_ENV_PREFIX: must not be empty (`$NAME` could name any variable)"
    reachable = sorted(
        name for name in settings_env_names() - _REFERENCE_SETTINGS if name.startswith(prefix)
    )
    if reachable:
        return (
            f"ECSP_SECRET_ENV_PREFIX: {prefix!r} lets `$NAME` references reach the worker's "
            f"own settings ({', '.join(reachable[:3])}…); use a prefix of its own, such as "
            "ECSP_SECRET_"
        )
    return None


def _require_for_run(settings: Settings) -> list[str]:
    """Settings that `run` needs but the other commands do not."""
    problems: list[str] = []
    prefix_problem = _secret_prefix_problem(settings.secret_env_prefix)
    if prefix_problem:
        problems.append(prefix_problem)
    if not settings.ecs_project_id:
        problems.append("ECSP_ECS_PROJECT_ID: required (the default project of requests)")
    if settings.auth_mode == "aksk" and not (settings.ecs_ak and settings.ecs_sk):
        problems.append("ECSP_ECS_AK / ECSP_ECS_SK: required with ECSP_AUTH_MODE=aksk")
    if settings.auth_mode == "token" and not (
        settings.iam_domain and settings.iam_username and settings.iam_password
    ):
        problems.append(
            "ECSP_IAM_DOMAIN / ECSP_IAM_USERNAME / ECSP_IAM_PASSWORD: required with "
            "ECSP_AUTH_MODE=token"
        )
    return problems


def load_settings(
    config_file: str | None = None,
    *,
    for_run: bool = False,
) -> Settings:
    """Loads and checks the settings; raises ConfigError naming every bad setting."""
    config_file = config_file or os.environ.get("ECSP_CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"ECSP_CONFIG_FILE: no such file {config_file}")
    try:
        settings = with_file_secrets(Settings(_env_file=config_file))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    problems = _unknown_names(settings, config_file)
    problems += _require_for_run(settings) if for_run else []
    if problems:
        raise ConfigError("; ".join(problems))
    return settings


def _unknown_names(settings: Settings, config_file: str | None) -> list[str]:
    """Environment variables and config file keys that look like settings but are none."""
    prefix = settings.secret_env_prefix
    return unknown_names(
        os.environ,
        dotenv_values(config_file) if config_file else (),
        known=settings_env_names(),
        secret_prefix=None if _secret_prefix_problem(prefix) else prefix,
        allowed=settings.allowed_unknown_variables,
        config_file=config_file,
    )


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        name = f"ECSP_{field.upper()}" if field else "configuration"
        lines.append(f"{name}: {describe(error)}")
    return "; ".join(lines)
