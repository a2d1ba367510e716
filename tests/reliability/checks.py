"""The checks of a reliability run: pure functions from what was planned and observed to verdicts.

Definitions (printed with the results, so a reader knows exactly what passed):
- a *terminal event* is a `succeeded`, `validated` or `failed` event; its *outcome* is
  (type, failure stage); its *origin* is the request record it answers (partition, offset);
- a key's *allowed outcomes* are fixed by its kind: exactly one outcome for every kind except
  same-key-other-body, which must end with exactly {succeeded (first body), failed/conflict
  (second body)}. Redeliveries may repeat events, never add an outcome;
- *duplicates* are terminal events answering the same origin; they must carry one id, and an id
  identifies one outcome: events sharing an id share their key and outcome;
- a key's *placements* are the body's own and, with an `ecs-fallbacks` header, the header's,
  each with its own client token (`PlannedKey.tokens`); a key's servers may come from one of
  them only.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from tests.reliability.mix import (
    FAILED_DECODE,
    FAILED_VALIDATE,
    SUCCEEDED,
    Kind,
    Outcome,
    PlannedKey,
)

TYPE_PREFIX = "ecs.provisioning."
CRASH_MARKERS = ("request task crashed", "Traceback (most recent call last)")


@dataclass(frozen=True)
class Message:
    """A record of the requests topic, read back after the run."""

    partition: int
    offset: int
    key: str | None
    value: bytes | None


@dataclass(frozen=True)
class Event:
    """A terminal event, read back after the run."""

    key: str | None
    id: str
    outcome: Outcome
    origin: tuple[int, int]
    server_ids: int
    raw: bytes
    placement: tuple[str, str | None] | None = None
    """`data.placement`'s (flavorRef, availability_zone), None when the event has none."""

    @classmethod
    def parse(cls, key: bytes | None, value: bytes) -> Event:
        document = json.loads(value)
        data = document["data"]
        kind = str(document["type"]).removeprefix(TYPE_PREFIX)
        placement = data.get("placement")
        return cls(
            key=key.decode(errors="replace") if key is not None else None,
            id=str(document["id"]),
            outcome=(kind, data.get("stage")),
            origin=(int(data["origin"]["partition"]), int(data["origin"]["offset"])),
            server_ids=len(data.get("server_ids") or ()),
            raw=value,
            placement=(
                None
                if placement is None
                else (str(placement["flavorRef"]), placement["availability_zone"])
            ),
        )


@dataclass(frozen=True)
class WorkerExit:
    """How one worker process ended: the signal the driver sent and the exit status seen."""

    name: str
    sent: Literal["SIGKILL", "SIGTERM", "none"]
    returncode: int | None


@dataclass
class Observation:
    """Everything a run produced that the checks look at."""

    plan: list[PlannedKey]
    messages: list[Message]
    events: list[Event]
    servers_by_token: dict[str, int]
    servers_without_token: int
    exits: list[WorkerExit]
    logs: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    built_by_token: dict[str, int] = field(default_factory=dict)
    """Servers there at the end (built, not failed), by their client token tag."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


def _examples(items: Iterable[object], limit: int = 5) -> str:
    shown = [str(i) for i in items]
    more = f" (+{len(shown) - limit} more)" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


def _events_by_key(events: list[Event]) -> dict[str | None, list[Event]]:
    grouped: dict[str | None, list[Event]] = defaultdict(list)
    for event in events:
        grouped[event.key].append(event)
    return grouped


def every_key_answered(obs: Observation) -> CheckResult:
    answered = {e.key for e in obs.events}
    missing = [p.key for p in obs.plan if p.key not in answered]
    return CheckResult(
        "every key has a terminal event",
        not missing,
        f"{len(obs.plan) - len(missing)}/{len(obs.plan)} keys answered"
        + (f"; missing: {_examples(missing)}" if missing else ""),
    )


def every_message_answered(obs: Observation) -> CheckResult:
    origins = {e.origin for e in obs.events}
    missing = [
        (m.partition, m.offset, m.key)
        for m in obs.messages
        if (m.partition, m.offset) not in origins
    ]
    return CheckResult(
        "every published message has a terminal event",
        not missing and bool(obs.messages),
        f"{len(obs.messages) - len(missing)}/{len(obs.messages)} messages answered"
        + (f"; missing (partition, offset, key): {_examples(missing)}" if missing else ""),
    )


def outcomes_as_allowed(obs: Observation) -> CheckResult:
    """Per key: distinct outcomes == allowed set, one id per outcome; per message: its outcome."""
    by_key = _events_by_key(obs.events)
    by_origin = {(m.partition, m.offset): m for m in obs.messages}
    planned = {p.key: p for p in obs.plan}
    wrong: list[str] = []
    for key, events in by_key.items():
        expected = planned.get(key or "")
        if expected is None:
            wrong.append(f"{key}: not a planned key")
            continue
        seen = {e.outcome for e in events}
        ids_per_outcome = {o: {e.id for e in events if e.outcome == o} for o in seen}
        if seen - expected.outcomes:
            wrong.append(
                f"{key}: {sorted(seen, key=str)} not within {sorted(expected.outcomes, key=str)}"
            )
        elif any(len(ids) > 1 for ids in ids_per_outcome.values()):
            wrong.append(f"{key}: one outcome under several event ids")
        for event in events:
            message = by_origin.get(event.origin)
            must = expected.outcome_of(message.value) if message is not None else None
            if must is not None and must != event.outcome:
                wrong.append(f"{key}@{event.origin}: {event.outcome}, must be {must}")
    complete = [
        p.key
        for p in obs.plan
        if p.key in by_key and {e.outcome for e in by_key[p.key]} != p.outcomes
    ]
    return CheckResult(
        "no key has two different terminal outcomes",
        not wrong,
        f"{len(by_key)} keys with events; {len(wrong)} with an outcome outside the allowed set"
        + (f": {_examples(wrong, 3)}" if wrong else "")
        + (f"; {len(complete)} keys not (yet) showing all allowed outcomes" if complete else ""),
    )


def _succeeded_token(planned: PlannedKey, event: Event) -> str:
    """The client token of the placement a succeeded event names (the key's own without one)."""
    for alternative in planned.placements:
        if (alternative.flavor_ref, alternative.availability_zone) == event.placement:
            return alternative.token
    return planned.token


def servers_at_most_once(obs: Observation) -> CheckResult:
    """Per client token (each placement of a key has its own): never more servers than one
    create of its body makes (none for dry runs and bad input); exactly that many for the
    placement the key's event says it succeeded in."""
    by_key = _events_by_key(obs.events)
    allowed = {token: p.servers for p in obs.plan for token in p.tokens}
    problems = [
        f"{token}: {count} servers, at most {allowed.get(token, 0)} allowed"
        for token, count in obs.servers_by_token.items()
        if count > allowed.get(token, 0)
    ]
    for p in obs.plan:
        succeeded = [e for e in by_key.get(p.key, ()) if e.outcome == SUCCEEDED]
        for token in sorted({_succeeded_token(p, e) for e in succeeded}):
            created = obs.servers_by_token.get(token, 0)
            if created != p.servers:
                problems.append(f"{p.key}: succeeded with {created} of {p.servers} servers")
    if obs.servers_without_token:
        problems.append(f"{obs.servers_without_token} servers created without a client token")
    return CheckResult(
        "the simulator created servers at most once per client token",
        not problems,
        f"{len(obs.servers_by_token)} tokens, {sum(obs.servers_by_token.values())} servers"
        + (f"; {_examples(problems, 3)}" if problems else ""),
    )


def one_placement_per_key(obs: Observation) -> CheckResult:
    """The servers there at the end carry, per key, the token of one placement only: a key
    whose alternatives were tried in turn (and redelivered in between) never ends up with
    servers in two places."""
    by_token = {token: p for p in obs.plan for token in p.tokens}
    placed: dict[str, set[str]] = defaultdict(set)
    strangers = []
    for token, count in obs.built_by_token.items():
        if count and token in by_token:
            placed[by_token[token].key].add(token)
        elif count:
            strangers.append(token)
    twice = [
        f"{key}: servers under {len(tokens)} tokens"
        for key, tokens in placed.items()
        if len(tokens) > 1
    ]
    twice += [f"{token}: servers of no planned key" for token in strangers]
    fallback_keys = sum(1 for p in obs.plan if p.headers)
    return CheckResult(
        "no request has servers in two placements",
        not twice,
        f"{sum(obs.built_by_token.values())} servers there at the end, of {len(placed)} keys "
        f"({fallback_keys} keys with ecs-fallbacks)"
        + (f"; {_examples(twice, 3)}" if twice else ""),
    )


def placement_only_with_fallbacks(obs: Observation) -> CheckResult:
    """A key with `ecs-fallbacks` that succeeded says where (`data.placement`, one of its
    placements); no event of a key without the header has a placement."""
    planned = {p.key: p for p in obs.plan}
    wrong: list[str] = []
    with_header = 0
    for event in obs.events:
        p = planned.get(event.key or "")
        if p is None:
            continue
        if not p.headers:
            if event.placement is not None:
                wrong.append(f"{p.key}: placement {event.placement} without ecs-fallbacks")
            continue
        if event.outcome != SUCCEEDED:
            continue
        with_header += 1
        where = {(a.flavor_ref, a.availability_zone) for a in p.placements}
        if event.placement not in where:
            wrong.append(f"{p.key}: succeeded with placement {event.placement}")
    return CheckResult(
        "data.placement on the events of requests with ecs-fallbacks only",
        not wrong,
        f"{with_header} succeeded events of keys with ecs-fallbacks"
        + (f"; wrong: {_examples(wrong, 3)}" if wrong else ""),
    )


def bad_input_failed_early(obs: Observation) -> CheckResult:
    """Invalid keys failed at `validate`, non-JSON at `decode`, and no valid key failed there."""
    by_key = _events_by_key(obs.events)
    wrong: list[str] = []
    counts: Counter[Kind] = Counter()
    for p in obs.plan:
        events = by_key.get(p.key, [])
        if p.kind in (Kind.INVALID, Kind.NOT_JSON):
            counts[p.kind] += 1
            want = FAILED_VALIDATE if p.kind is Kind.INVALID else FAILED_DECODE
            wrong.extend(f"{p.key}: {e.outcome}" for e in events if e.outcome != want)
        else:
            early = [e for e in events if e.outcome in (FAILED_VALIDATE, FAILED_DECODE)]
            wrong.extend(f"{p.key} (valid): {e.outcome}" for e in early)
    return CheckResult(
        "invalid requests failed at stage validate (non-JSON at decode)",
        not wrong,
        f"{counts[Kind.INVALID]} invalid, {counts[Kind.NOT_JSON]} non-JSON keys"
        + (f"; wrong: {_examples(wrong, 3)}" if wrong else ""),
    )


def duplicates_share_id(obs: Observation) -> CheckResult:
    """Events answering the same record carry one id, and one id means one key and outcome."""
    by_origin: dict[tuple[int, int], list[Event]] = defaultdict(list)
    for event in obs.events:
        by_origin[event.origin].append(event)
    duplicated = {o: es for o, es in by_origin.items() if len(es) > 1}
    wrong: list[str] = []
    for origin, events in by_origin.items():
        if len({e.id for e in events}) > 1:
            wrong.append(f"{origin}: ids {sorted({e.id for e in events})}")
    answers: dict[str, set[tuple[str | None, Outcome]]] = defaultdict(set)
    for event in obs.events:
        answers[event.id].add((event.key, event.outcome))
    wrong.extend(f"id {i} names {sorted(map(str, a))}" for i, a in answers.items() if len(a) > 1)
    extra = sum(len(es) - 1 for es in duplicated.values())
    return CheckResult(
        "duplicate events share their id",
        not wrong,
        f"{extra} duplicate events over {len(duplicated)} records"
        + (f"; wrong: {_examples(wrong, 3)}" if wrong else ""),
    )


def one_event_per_message(obs: Observation) -> CheckResult:
    """Exactly-once delivery: a read_committed subscriber sees one terminal event per message."""
    per_origin = Counter(e.origin for e in obs.events)
    repeated = sorted(o for o, n in per_origin.items() if n > 1)
    return CheckResult(
        "exactly one terminal event per message (read_committed)",
        not repeated and bool(per_origin),
        f"{len(per_origin)} messages with events; {len(repeated)} with more than one"
        + (f": {_examples(repeated)}" if repeated else ""),
    )


def state_copies_are_the_answers(events: list[Event], copies: list[Event]) -> CheckResult:
    """Exactly-once delivery with a state topic, both read as a read_committed subscriber: the
    state topic's terminal copies are exactly the keyed answers, one each, the same event (id),
    since each copy is committed in its answer's transaction."""
    keyed = Counter((e.origin, e.id) for e in events if e.key is not None)
    copied = Counter((c.origin, c.id) for c in copies)
    missing = sorted(o for o, _ in keyed - copied)
    extra = sorted(o for o, _ in copied - keyed)
    return CheckResult(
        "the state topic's terminal copies are the answers, once each (read_committed)",
        not missing and not extra and bool(copied),
        f"{sum(copied.values())} terminal copies for {sum(keyed.values())} keyed answers; "
        f"{len(missing)} answers without their copy"
        + (f" ({_examples(missing)})" if missing else "")
        + f", {len(extra)} copies without their answer or repeated"
        + (f" ({_examples(extra)})" if extra else ""),
    )


def never_crashed(obs: Observation) -> CheckResult:
    """No crash marker in any log; every exit was a SIGKILL we sent or a clean SIGTERM exit 0."""
    problems = [
        f"{name}: {marker!r} x{text.count(marker)}"
        for name, text in obs.logs.items()
        for marker in CRASH_MARKERS
        if marker in text
    ]
    for ended in obs.exits:
        if ended.sent == "SIGKILL" and ended.returncode == -9:
            continue
        if ended.sent == "SIGTERM" and ended.returncode == 0:
            continue
        problems.append(f"{ended.name}: exit {ended.returncode} after {ended.sent}")
    kills = sum(1 for e in obs.exits if e.sent == "SIGKILL")
    return CheckResult(
        "the worker never crashed on a message",
        not problems,
        f"{len(obs.exits)} worker exits ({kills} by our SIGKILL), {len(obs.logs)} logs scanned"
        + (f"; {_examples(problems, 3)}" if problems else ""),
    )


def no_secret_leaked(obs: Observation) -> CheckResult:
    texts = [*obs.logs.values(), *(e.raw.decode(errors="replace") for e in obs.events)]
    hits = sum(1 for text in texts for secret in obs.secrets if secret and secret in text)
    return CheckResult(
        "no secret in worker logs or events",
        hits == 0,
        f"{len(obs.secrets)} secret values searched in {len(texts)} logs/events; {hits} hits",
    )


CHECKS: tuple[Callable[[Observation], CheckResult], ...] = (
    every_key_answered,
    every_message_answered,
    outcomes_as_allowed,
    servers_at_most_once,
    one_placement_per_key,
    placement_only_with_fallbacks,
    bad_input_failed_early,
    duplicates_share_id,
    never_crashed,
    no_secret_leaked,
)


def run_checks(obs: Observation) -> list[CheckResult]:
    return [check(obs) for check in CHECKS]


def table(results: list[CheckResult]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'check':<{width}}  result  detail", "-" * (width + 40)]
    lines += [
        f"{r.name:<{width}}  {'PASS' if r.passed else 'FAIL':<6}  {_one_line(r.detail)}"
        for r in results
    ]
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)
