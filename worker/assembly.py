"""The process settings turned into what each component takes: small configs and collaborators.

Owns one function per component (`client_settings`, `http_settings`, `pipeline_parts`,
`worker_config`, …): the only place that reads `Settings` for them, so no component sees the
whole settings. `worker.service` calls them and owns the resources' lifetimes. The tenants file
(`read_tenants_file`) is turned here into what each side needs of it: the pipeline's
`TenantTable` and secret scopes, the consumer's request topics and each tenant's event topics.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import aiohttp

from ecsp_contract.channels import Channel, channel_of
from ecsp_contract.events import EventType
from ecsp_contract.tenants import DEFAULT_TENANT, tenant_topic
from worker.consumer.offset_map import OffsetMapConfig
from worker.consumer.runner import WorkerConfig
from worker.consumer.transactional import TransactionalConfig
from worker.ecs.auth import AkSkAuth, TokenAuth
from worker.ecs.breaker import BreakerConfig, CircuitBreaker
from worker.ecs.client import EcsClient, EcsClientSettings
from worker.ecs.credentials import (
    Credential,
    CredentialSource,
    FileCredentials,
    MetadataCredentials,
)
from worker.ecs.ratelimit import AdaptiveRate, AimdConfig, CallLimiter, TokenBucket
from worker.ecs.retry import RetryConfig
from worker.ecs.transport import HttpSettings
from worker.ops.metrics import Metrics
from worker.ops.settings import Settings, settings_env_names
from worker.pipeline.answer import AnswerConfig
from worker.pipeline.bulk_follow import BulkFollowConfig, BulkFollower
from worker.pipeline.capacity_memory import CapacityMemory
from worker.pipeline.compose import EcsApi, PipelineParts
from worker.pipeline.context import EventSettings
from worker.pipeline.create import CreateConfig
from worker.pipeline.follow import Pacing
from worker.pipeline.guardrails import GuardrailsParts
from worker.pipeline.placement import Placer
from worker.pipeline.port import Intake
from worker.pipeline.schedule import PollSchedule
from worker.pipeline.secrets import SecretScopes, SecretSource
from worker.pipeline.tagging import deployment_tag_value
from worker.pipeline.tenant import Tenant, TenantTable
from worker.pipeline.validate import ValidateConfig
from worker.policy.budget import HourlyBudget
from worker.policy.source import PolicySource
from worker.tenancy.load import read_tenants
from worker.tenancy.model import TenantsDocument
from worker.tenancy.sharing import DefaultTenantScope, token_namespace_of


def _secret(value: object) -> str:
    get = getattr(value, "get_secret_value", None)
    return str(get()) if get is not None else ""


def _secret_or_file(settings: Settings, name: str) -> str | Path | None:
    """A secret as its file (re-read when it changes) if given that way, else its value."""
    return settings.secret_file(name) or _secret(getattr(settings, name)) or None


def credential_source(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics
) -> CredentialSource:
    """Where AK/SK come from: the instance metadata service, files, or fixed values."""
    if settings.auth_mode == "metadata":
        return MetadataCredentials(
            session,
            settings.ecs_metadata_endpoint,
            refresh_before=settings.credential_refresh_seconds,
            observer=metrics,
        )
    access_key = _secret_or_file(settings, "ecs_ak") or ""
    secret_key = _secret_or_file(settings, "ecs_sk") or ""
    token = _secret_or_file(settings, "ecs_security_token")
    if any(isinstance(v, Path) for v in (access_key, secret_key, token)):
        return FileCredentials(access_key, secret_key, token)
    return Credential(str(access_key), str(secret_key), str(token) if token else None)


def make_auth(
    settings: Settings, session: aiohttp.ClientSession, metrics: Metrics
) -> AkSkAuth | TokenAuth:
    if settings.auth_mode == "token":
        return TokenAuth(
            session,
            settings.iam_url,
            settings.iam_domain or "",
            settings.iam_username or "",
            settings.secret_file("iam_password") or _secret(settings.iam_password),
            settings.ecs_project_id,
            observer=metrics,
        )
    return AkSkAuth(credential_source(settings, session, metrics))


def client_settings(settings: Settings) -> EcsClientSettings:
    return EcsClientSettings(
        endpoint=settings.ecs_base_url,
        retry=RetryConfig(
            max_attempts=settings.api_max_attempts,
            base_delay=settings.api_retry_base_seconds,
            max_delay=settings.api_retry_max_seconds,
            deadline=settings.api_call_deadline_seconds,
        ),
    )


def http_settings(settings: Settings) -> HttpSettings:
    return HttpSettings(
        verify_tls=settings.ecs_verify_tls,
        ca_file=str(settings.ecs_ca_file) if settings.ecs_ca_file else None,
        request_timeout=settings.api_timeout_seconds,
        connect_timeout=settings.api_connect_timeout_seconds,
        connection_limit=max(100, min(settings.max_in_flight, 1000)),
    )


def read_tenants_file(settings: Settings) -> TenantsDocument:
    """The tenants of `ECSP_TENANTS_FILE` (none without it); TenantsFileError if invalid."""
    if settings.tenants_file is None:
        return TenantsDocument()
    default = DefaultTenantScope(
        projects=settings.allowed_projects(),
        token_namespace=settings.token_namespace,
        secret_dir=settings.secret_dir,
    )
    return read_tenants(settings.tenants_file, default)


def tenant_table(settings: Settings, tenants: TenantsDocument) -> TenantTable:
    """Each tenant's request topic → the tenant; the shared topic's is today's configuration."""
    default = Tenant(
        name=DEFAULT_TENANT,
        token_namespace=settings.token_namespace,
        default_project=settings.ecs_project_id,
        projects=settings.allowed_projects(),
    )
    by_topic = {
        tenant_topic(settings.topic_requests, name): Tenant(
            name=name,
            token_namespace=token_namespace_of(name, spec, settings.token_namespace),
            default_project=spec.project_id,
            projects=frozenset(spec.all_projects()),
        )
        for name, spec in tenants.tenants.items()
    }
    return TenantTable(default, by_topic)


def secret_scopes(settings: Settings, tenants: TenantsDocument) -> SecretScopes:
    """The default tenant's `$NAME` scope (environment, then directory) and each tenant's
    (its own directory only)."""
    return SecretScopes(
        default=SecretSource(settings.secret_env_prefix, settings.secret_dir, settings_env_names()),
        tenants={
            name: SecretSource(env_prefix=None, directory=spec.secret_dir)
            for name, spec in tenants.tenants.items()
        },
    )


def pipeline_parts(
    settings: Settings,
    api: EcsApi,
    *,
    intake: Intake,
    pacing: Pacing,
    observer: Metrics,
    guardrails: GuardrailsParts | None,
    tenants: TenantsDocument,
) -> PipelineParts:
    """What the request pipeline's steps take from the settings and the process."""
    return PipelineParts(
        answer=AnswerConfig(
            events=EventSettings(settings.event_source, tuple(settings.redact_fields)),
            tenants=tenant_table(settings, tenants),
            request_deadline_seconds=settings.request_deadline_seconds,
        ),
        validate=ValidateConfig(
            extra_fields=settings.extra_fields(),
            include_request=settings.include_request,
            on_partial_failure=settings.on_partial_failure,
            partial_failure_header_allowed=settings.allow_partial_failure_header,
        ),
        max_request_bytes=settings.max_request_bytes,
        create=create_config(settings),
        api=api,
        secrets=secret_scopes(settings, tenants),
        intake=intake,
        pacing=pacing,
        schedule=poll_schedule(settings),
        observer=observer,
        placer=Placer(CapacityMemory(settings.capacity_cache_seconds), observer),
        guardrails=guardrails,
    )


def create_config(settings: Settings) -> CreateConfig:
    return CreateConfig(
        deployment_name=settings.deployment_name,
        token_window_seconds=settings.token_window_seconds,
        after_token_window=settings.after_token_window,
    )


def poll_schedule(settings: Settings) -> PollSchedule:
    """The per-job schedule of job checks."""
    return PollSchedule(
        settings.job_poll_initial_seconds, settings.job_poll_factor, settings.job_poll_max_seconds
    )


def topics_of(settings: Settings, tenant: str) -> dict[Channel, str]:
    """A tenant's topic of each channel: the shared ones for the default tenant, else the
    shared ones with `.<tenant>` appended (an empty one, progress or state off, stays off)."""
    shared = {channel: settings.topic(channel) for channel in Channel}
    if tenant == DEFAULT_TENANT:
        return shared
    return {c: tenant_topic(topic, tenant) if topic else "" for c, topic in shared.items()}


def event_routes(settings: Settings, tenant: str) -> dict[EventType, str]:
    """Where each event type answering the tenant's requests is published."""
    topics = topics_of(settings, tenant)
    return {event_type: topics[channel_of(event_type)] for event_type in EventType}


def state_topics(settings: Settings, tenants: TenantsDocument) -> Mapping[str, str]:
    """Each event topic → the state topic of its tenant (empty when the state topic is off)."""
    if not settings.topic_state:
        return {}
    state_of = {}
    for tenant in (DEFAULT_TENANT, *tenants.tenants):
        topics = topics_of(settings, tenant)
        for channel, topic in topics.items():
            if topic and channel not in (Channel.REQUESTS, Channel.STATE):
                state_of[topic] = topics[Channel.STATE]
    return state_of


def worker_config(settings: Settings, tenants: TenantsDocument) -> WorkerConfig:
    """What the consume loop takes from the settings and the tenants."""
    return WorkerConfig(
        topic=settings.topic_requests,
        topic_of=event_routes(settings, DEFAULT_TENANT),
        tenant_routes={
            topics_of(settings, name)[Channel.REQUESTS]: event_routes(settings, name)
            for name in tenants.tenants
        },
        event_source=settings.event_source,
        max_in_flight=settings.max_in_flight,
        partition_limit=settings.partition_limit,
        resume_ratio=settings.resume_ratio,
        commit_interval_seconds=settings.commit_interval_seconds,
        lag_interval_seconds=settings.lag_interval_seconds,
        revoke_grace_seconds=settings.revoke_grace_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        offset_map=OffsetMapConfig(
            settings.answered_offsets_map, settings.offset_metadata_max_bytes
        ),
    )


def transactional_config(settings: Settings) -> TransactionalConfig:
    """What the exactly-once delivery takes from the settings."""
    return TransactionalConfig(
        group_id=settings.group_id,
        max_event_bytes=settings.max_event_bytes,
        transaction_timeout_seconds=settings.transaction_timeout_seconds,
    )


def make_follower(settings: Settings, client: EcsClient) -> BulkFollower | None:
    """The process's bulk follower of tagged jobs, or None when bulk following is off."""
    if not settings.bulk_follow:
        return None
    config = BulkFollowConfig(
        deployment_tag=deployment_tag_value(settings.deployment_name),
        interval_seconds=settings.bulk_follow_interval_seconds,
        safety_net_seconds=settings.bulk_follow_safety_net_seconds,
        unseen_seconds=settings.bulk_follow_unseen_seconds,
    )
    return BulkFollower(client, config)


def make_limiter(settings: Settings, metrics: Metrics) -> CallLimiter:
    """The process's call pace: adaptive below the configured ceiling, or none at all."""
    if settings.api_rate_limit <= 0:
        metrics.api_rate.set(0)
        return TokenBucket(0)
    config = AimdConfig(
        ceiling=settings.api_rate_limit,
        floor=min(0.5, settings.api_rate_limit),
        increase=settings.api_rate_increase,
    )
    return AdaptiveRate(config, settings.api_burst, on_change=metrics.api_rate.set)


def make_breaker(settings: Settings, metrics: Metrics) -> CircuitBreaker:
    config = BreakerConfig(
        failure_threshold=settings.breaker_failure_threshold,
        probe_initial=settings.breaker_probe_initial_seconds,
        probe_max=settings.breaker_probe_max_seconds,
    )
    return CircuitBreaker(config, on_change=metrics.circuit_changed)


def make_guardrails(
    settings: Settings, policy: PolicySource, metrics: Metrics
) -> GuardrailsParts | None:
    """What the guardrails take, or None when no policy file is configured."""
    if settings.policy_file is None:
        return None
    return GuardrailsParts(
        policy.current,
        HourlyBudget(settings.policy_budget_window_seconds),
        settings.policy_budget_parked_per_partition,
        metrics,
    )
