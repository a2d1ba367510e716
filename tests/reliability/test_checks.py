"""The reliability checks themselves: a faithful run passes every one, and each planted fault
(lost event, second outcome, second create, servers in two placements, a placement missing or
invented, wrong stage, unstable id, crash, leak) fails exactly the check meant to catch it. No
broker needed."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from ecsp_contract.request import CreateServersBody
from tests.reliability import checks, mix
from tests.reliability.checks import (
    TYPE_PREFIX,
    Event,
    Message,
    Observation,
    WorkerExit,
    run_checks,
)
from tests.support import secrets

PLAN = mix.plan(seed=11, messages=120)


def event_for(
    key: str,
    outcome: mix.Outcome,
    origin: tuple[int, int],
    servers: int,
    placement: tuple[str, str | None] | None = None,
) -> Event:
    token = mix.PlannedKey(key, mix.Kind.POSTPAID, (), 0).token
    event_id = str(uuid.uuid5(uuid.UUID(token), TYPE_PREFIX + outcome[0]))
    raw = json.dumps({"id": event_id, "subject": key}).encode()
    return Event(key, event_id, outcome, origin, servers, raw, placement)


def faithful() -> Observation:
    """What a correct worker produces for PLAN: one right event per message, servers once."""
    messages: list[Message] = []
    events: list[Event] = []
    servers: dict[str, int] = {}
    fallback_keys = 0
    for publication in mix.publication_order(PLAN, seed=11):
        planned = next(p for p in PLAN if p.key == publication.key)
        origin = (len(messages) % 3, len(messages))
        messages.append(Message(*origin, planned.key, publication.value))
        outcome = planned.outcome_of(publication.value)
        created = planned.servers if outcome == mix.SUCCEEDED else 0
        token, placement = planned.token, None
        if planned.placements:  # each fallback key in another of its placements
            fallback_keys += 1
            chosen = planned.placements[fallback_keys % len(planned.placements)]
            token, placement = chosen.token, (chosen.flavor_ref, chosen.availability_zone)
        events.append(event_for(planned.key, outcome, origin, created, placement))
        if created:
            servers[token] = created
    exits = [WorkerExit("worker-A-1", "SIGKILL", -9), WorkerExit("worker-A-2", "SIGTERM", 0)]
    logs = {"worker-A-1.log": '{"event": "worker started"}\n'}
    return Observation(
        PLAN, messages, events, servers, 0, exits, logs, secrets.ALL, built_by_token=dict(servers)
    )


def failing(observation: Observation) -> set[str]:
    return {r.name for r in run_checks(observation) if not r.passed}


def test_the_plan_covers_every_kind_and_its_bodies_are_what_they_claim() -> None:
    plan = mix.plan(seed=3, messages=2000)
    assert sum(len(p.values) for p in plan) == 2000
    assert {p.kind for p in plan} == set(mix.Kind)
    for planned in plan:
        if planned.kind is mix.Kind.NOT_JSON:
            continue
        for value in planned.values:
            assert value is not None
            valid = True
            try:
                CreateServersBody.model_validate_json(value)
            except ValueError:
                valid = False
            assert valid is (planned.kind is not mix.Kind.INVALID), planned.key
    assert mix.plan(seed=3, messages=50) == mix.plan(seed=3, messages=50)


def test_a_faithful_run_passes_every_check() -> None:
    obs = faithful()
    assert failing(obs) == set()
    fallbacks = [e for e in obs.events if e.placement is not None]
    # the plan has fallback keys, placed in each of their placements
    assert len({e.placement for e in fallbacks}) == 3


def test_a_fallback_request_with_servers_in_two_placements_fails() -> None:
    obs = faithful()
    key = next(p for p in PLAN if p.placements and p.key in {e.key for e in obs.events})
    unused = next(a.token for a in key.placements if a.token not in obs.servers_by_token)
    obs.servers_by_token[unused] = key.servers  # each token once, but the request twice
    obs.built_by_token[unused] = key.servers
    assert failing(obs) == {"no request has servers in two placements"}


def test_a_failed_sold_out_placement_whose_servers_are_gone_passes() -> None:
    """A job sold out in every sub-job was accepted (counted per token) but left no server."""
    obs = faithful()
    key = next(p for p in PLAN if p.placements)
    unused = next(a.token for a in key.placements if a.token not in obs.servers_by_token)
    obs.servers_by_token[unused] = key.servers
    assert failing(obs) == set()


def test_a_fallback_success_without_its_placement_fails() -> None:
    obs = faithful()
    obs.events = [
        dataclasses.replace(e, placement=None) if e.placement is not None else e for e in obs.events
    ]
    assert "data.placement on the events of requests with ecs-fallbacks only" in failing(obs)


def test_a_placement_on_a_request_without_the_header_fails() -> None:
    obs = faithful()
    plain = next(i for i, e in enumerate(obs.events) if e.placement is None)
    obs.events[plain] = dataclasses.replace(obs.events[plain], placement=("s2.large.2", "az1"))
    assert failing(obs) == {"data.placement on the events of requests with ecs-fallbacks only"}


def test_fallback_requests_carry_the_header_and_a_token_per_placement() -> None:
    fallback = [p for p in mix.plan(seed=3, messages=2000) if p.kind is mix.Kind.FALLBACK]
    assert fallback
    for planned in fallback:
        assert planned.headers == (("ecs-fallbacks", mix.FALLBACKS.encode()),)
        assert [(a.flavor_ref, a.availability_zone) for a in planned.placements] == [
            ("s6.large.2", "az1-dc1"),
            ("s6.large.2", "az2-dc1"),
            ("c7.large.2", "az3-dc1"),
        ]
        assert planned.tokens[0] == planned.token
        assert len(set(planned.tokens)) == 3
    publications = mix.publication_order(fallback, seed=3)
    assert {p.headers for p in publications} == {fallback[0].headers}


def test_redelivered_duplicates_with_the_same_id_pass() -> None:
    obs = faithful()
    obs.events += obs.events[:10]
    assert failing(obs) == set()


def test_exactly_once_allows_one_event_per_message_and_no_redelivery() -> None:
    obs = faithful()
    assert checks.one_event_per_message(obs).passed
    obs.events += obs.events[:1]
    result = checks.one_event_per_message(obs)
    assert not result.passed
    assert "1 with more than one" in result.detail


def test_the_state_copies_must_be_the_answers_once_each() -> None:
    obs = faithful()
    copies = [e for e in obs.events if e.key is not None]
    assert checks.state_copies_are_the_answers(obs.events, copies).passed
    assert not checks.state_copies_are_the_answers(obs.events, copies[1:]).passed  # one lost
    repeated = checks.state_copies_are_the_answers(obs.events, copies + copies[:1])
    assert not repeated.passed
    assert "1 copies without their answer or repeated" in repeated.detail
    assert not checks.state_copies_are_the_answers(obs.events, []).passed


def test_a_lost_event_fails_the_answered_checks() -> None:
    obs = faithful()
    lost = obs.events.pop(5)
    assert failing(obs) >= {"every published message has a terminal event"}
    if all(e.key != lost.key for e in obs.events):
        assert "every key has a terminal event" in failing(obs)


def test_a_second_outcome_for_a_key_fails() -> None:
    obs = faithful()
    first = next(e for e in obs.events if e.outcome == mix.SUCCEEDED)
    obs.events.append(event_for(first.key or "", ("failed", "timeout"), first.origin, 0))
    assert "no key has two different terminal outcomes" in failing(obs)


def test_a_second_create_for_a_token_fails() -> None:
    obs = faithful()
    token = next(iter(obs.servers_by_token))
    obs.servers_by_token[token] += 1
    assert failing(obs) == {"the simulator created servers at most once per client token"}


def test_a_succeeded_key_without_its_servers_fails() -> None:
    obs = faithful()
    token = next(iter(obs.servers_by_token))
    del obs.servers_by_token[token]
    assert failing(obs) == {"the simulator created servers at most once per client token"}


def test_a_server_for_a_dry_run_fails() -> None:
    obs = faithful()
    dry = next(p for p in PLAN if p.kind is mix.Kind.DRY_RUN)
    obs.servers_by_token[dry.token] = 1
    assert failing(obs) == {"the simulator created servers at most once per client token"}


def test_a_lost_request_whose_servers_exist_is_loss_not_duplication() -> None:
    obs = faithful()
    created = next(p for p in PLAN if p.kind is mix.Kind.POSTPAID)
    obs.events = [e for e in obs.events if e.key != created.key]
    assert "the simulator created servers at most once per client token" not in failing(obs)
    assert "every key has a terminal event" in failing(obs)


def test_an_invalid_request_reaching_the_api_fails() -> None:
    obs = faithful()
    invalid = next(p for p in PLAN if p.kind is mix.Kind.INVALID)
    obs.events = [
        dataclasses.replace(e, outcome=("failed", "submit")) if e.key == invalid.key else e
        for e in obs.events
    ]
    assert "invalid requests failed at stage validate (non-JSON at decode)" in failing(obs)


def test_a_duplicate_with_another_id_fails() -> None:
    obs = faithful()
    obs.events.append(dataclasses.replace(obs.events[0], id=str(uuid.uuid4())))
    assert "duplicate events share their id" in failing(obs)


def test_two_outcomes_under_one_id_fail() -> None:
    obs = faithful()
    first = obs.events[0]
    other = next(e for e in obs.events if e.outcome != first.outcome)
    obs.events.append(dataclasses.replace(other, id=first.id))
    assert "duplicate events share their id" in failing(obs)


@pytest.mark.parametrize(
    ("exits", "log"),
    [
        ([WorkerExit("worker-B-1", "none", 1)], ""),
        ([WorkerExit("worker-B-1", "SIGTERM", 1)], ""),
        ([], '{"event": "request task crashed", "error": "KeyError"}'),
    ],
)
def test_a_crash_or_unexpected_exit_fails(exits: list[WorkerExit], log: str) -> None:
    obs = faithful()
    obs.exits += exits
    obs.logs["worker-B-1.log"] = log
    assert failing(obs) == {"the worker never crashed on a message"}


def test_a_secret_in_an_event_fails() -> None:
    obs = faithful()
    obs.events.append(dataclasses.replace(obs.events[0], raw=secrets.ADMIN_PASS_SECRET.encode()))
    assert failing(obs) == {"no secret in worker logs or events"}
