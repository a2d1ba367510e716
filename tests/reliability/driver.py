"""One reliability run, start to verdict: broker, simulator, worker processes, chaos, checks.

`execute(config)` publishes the seeded request mix over `publish_seconds` while a chaos timeline
SIGKILLs workers (restarting them), runs one more group member for part of the run, restarts
the broker and switches offerings sold out and back (the `ecs-fallbacks` requests' placements);
the simulator answers with injected 5xx, 429 and latency. When the group has committed
everything (and the events are in), the workers get SIGTERM, every topic is read back (as a
read_committed subscriber under exactly-once delivery), the simulator's servers are listed by
their token tag and the checks of `tests.reliability.checks` judge the run. The delivery mode,
the answered-offsets map, static membership and the number of workers from the start are
settings of the run (`tests.reliability.delivery` compares the modes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from tests.reliability import mix
from tests.reliability.checks import (
    CheckResult,
    Event,
    Message,
    Observation,
    one_event_per_message,
    run_checks,
    state_copies_are_the_answers,
)
from tests.reliability.observe import Collector, OffsetProbe
from tests.reliability.processes import DEFECT_COMMAND, WORKER_COMMAND, OwnBroker, WorkerSlot
from tests.reliability.schedule import Step, describe, make_schedule
from tests.support import secrets
from tests.support.ecs_client import layered_client
from tests.support.kafka import create_topics, delete_topics, read_all
from tests.support.stack import PROJECT, STATE_TOPIC_CONFIG, sim_call, worker_env
from worker.ecs.auth import AkSkAuth
from worker.ecs.credentials import Credential
from worker.ecs.servers import ServerQuery, list_all_servers
from worker.pipeline.tagging import TOKEN_TAG_KEY
from worker.simulator.knobs import SimulatorConfig
from worker.simulator.serving import running_simulator

#: The event types a state topic copy is terminal for (its progress copies are not).
TERMINAL_KINDS = frozenset({"succeeded", "validated", "failed"})

DEFECTS = ("commit-before-publish",)

DEFAULT_FAULTS: Mapping[str, Any] = MappingProxyType(
    {"error_rate": 0.2, "throttle_rate": 0.1, "latency_ms": [5, 400], "drop_rate": 0.02}
)

#: Worker settings of a run, on top of the suite's `worker_env`: json logs for the crash scan,
#: more attempts per API call so 30% injected faults do not end a request as `submit` failure
#: (0.3^12 ~ 5e-7 per call), and a quick job poll so jobs of 0.5-3 s are seen soon.
WORKER_SETTINGS: Mapping[str, str] = MappingProxyType(
    {
        "ECSP_LOG_FORMAT": "json",
        "ECSP_LOG_LEVEL": "INFO",
        "ECSP_API_MAX_ATTEMPTS": "12",
        "ECSP_JOB_POLL_INITIAL_SECONDS": "0.3",
        "ECSP_JOB_POLL_MAX_SECONDS": "1.0",
        "ECSP_MAX_IN_FLIGHT": "300",
    }
)

#: The server list is eventually consistent: bulk following must not take a server missing from
#: it for finished (the suite's worker_env follows tagged jobs in bulk, listing every 0.5 s).
LIST_LAG_SECONDS = 1.0

#: The log line of a worker that joined the group and got partitions (so it is doing work).
ASSIGNED = '"partitions assigned"'

#: How long the planted defect waits between marking an offset done and publishing its event.
DEFECT_DELAY_SECONDS = "3"


@dataclass(frozen=True)
class RunConfig:
    seed: int
    requests: int = 2000
    log_dir: Path = Path(".run/reliability")
    bootstrap: str | None = None
    """An existing broker (never restarted); None: start an own broker on `broker_port`."""
    broker_port: int = 9392
    partitions: int = 6
    kills: int = 5
    restart_broker: bool = True
    second_worker: bool = True
    defect: str | None = None
    publish_seconds: float | None = None
    """How long publishing is spread over; default requests / 40 (at least 8 s)."""
    job_seconds: tuple[float, float] = (0.5, 3.0)
    faults: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_FAULTS))
    capacity_changes: bool = True
    """Switch the fallback requests' offerings sold out and back during the run (schedule.py);
    False: the body's own offering of those requests stays sold out all along."""
    timeout: float = 600.0
    """Longest wait for the group to finish after publishing started."""
    delivery: str = "at_least_once"
    """`ECSP_DELIVERY`; `exactly_once` also reads the events back as read_committed."""
    answered_map: bool = True
    """`ECSP_ANSWERED_OFFSETS_MAP`: off is the behaviour before issue 26."""
    static_membership: bool = False
    """Each worker slot keeps one `ECSP_GROUP_INSTANCE_ID` across its restarts (a pod name)."""
    initial_workers: int = 1
    """Workers from the start; `second_worker` adds one more that joins and leaves."""
    state_topic: bool = False
    """A compacted state topic (`ECSP_TOPIC_STATE`); under exactly_once its terminal copies,
    read back as read_committed, must be the answers, once each."""

    @property
    def spread(self) -> float:
        return self.publish_seconds or max(8.0, self.requests / 40)


@dataclass
class RunReport:
    config: RunConfig
    results: list[CheckResult]
    figures: dict[str, Any]
    schedule: str

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def execute(config: RunConfig, say: Callable[[str], None] = _say) -> RunReport:
    if config.defect is not None and config.defect not in DEFECTS:
        raise ValueError(f"unknown defect {config.defect!r}; known: {', '.join(DEFECTS)}")
    if config.bootstrap is not None:
        return await _Run(config, config.bootstrap, None, say).execute()
    broker = OwnBroker(config.broker_port)
    say(f"starting own broker on {broker.bootstrap}")
    await broker.start()
    try:
        return await _Run(config, broker.bootstrap, broker, say).execute()
    finally:
        await broker.stop()


@dataclass
class _Run:
    config: RunConfig
    bootstrap: str
    broker: OwnBroker | None
    say: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)
    ends: dict[int, int] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    kafka_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def execute(self) -> RunReport:
        c = self.config
        suffix = f"{c.seed}-{uuid.uuid4().hex[:8]}"
        topics = {n: f"reliability.{n}.{suffix}" for n in ("requests", "results", "failures")}
        topics["progress"] = ""
        await create_topics(self.bootstrap, [topics["requests"]], c.partitions)
        await create_topics(self.bootstrap, [topics["results"], topics["failures"]], 1)
        if c.state_topic:
            topics["state"] = f"reliability.state.{suffix}"
            await create_topics(self.bootstrap, [topics["state"]], 1, STATE_TOPIC_CONFIG)
        keys = mix.plan(c.seed, c.requests)
        steps = make_schedule(
            c.seed,
            publish_seconds=c.spread,
            kills=c.kills,
            restart_broker=c.restart_broker and self.broker is not None,
            second_worker=c.second_worker,
            sold_out_candidates=mix.SOLD_OUT_CANDIDATES if c.capacity_changes else (),
        )
        self.say(f"seed {c.seed}: {len(keys)} keys, {c.requests} messages; {describe(steps)}")
        try:
            figures = await self._with_simulator(keys, steps, topics, f"reliability-{suffix}")
        finally:
            with contextlib.suppress(Exception):
                await delete_topics(self.bootstrap, [t for t in topics.values() if t])
        return RunReport(c, figures.pop("results"), figures, describe(steps))

    async def _with_simulator(
        self, keys: list[mix.PlannedKey], steps: list[Step], topics: dict[str, str], group: str
    ) -> dict[str, Any]:
        c = self.config
        sim = SimulatorConfig(
            admin_routes=True,
            credentials={secrets.TEST_AK: secrets.TEST_SK},
            job_seconds=c.job_seconds,
            seed=c.seed,
            list_lag_seconds=LIST_LAG_SECONDS,
        )
        async with running_simulator(sim) as base_url:
            faults = dict(c.faults)
            if not c.capacity_changes:
                faults["sold_out"] = list(mix.SOLD_OUT_CANDIDATES[:1])
            await sim_call(base_url, "POST", "/_sim/faults", faults)
            env = worker_env(self.bootstrap, base_url, topics, group, **WORKER_SETTINGS)
            env["ECSP_DELIVERY"] = c.delivery
            env["ECSP_ANSWERED_OFFSETS_MAP"] = str(c.answered_map).lower()
            if c.defect:
                env["ECSP_TEST_DEFECT_DELAY_SECONDS"] = DEFECT_DELAY_SECONDS
            c.log_dir.mkdir(parents=True, exist_ok=True)
            for old_log in c.log_dir.glob("worker-*.log"):
                old_log.unlink()
            command = DEFECT_COMMAND if c.defect else WORKER_COMMAND
            slots = [
                WorkerSlot(name, {**env, **self._membership(group, name)}, c.log_dir, command)
                for name in "ABCDEFGH"[: c.initial_workers + 1]
            ]
            collector = Collector(self.bootstrap, [topics["results"], topics["failures"]])
            probe = OffsetProbe(self.bootstrap, group, topics["requests"], c.partitions)
            for slot in slots[: c.initial_workers]:
                await slot.start()
            self.started = time.monotonic()
            tasks = [
                asyncio.create_task(self._publish(keys, topics["requests"])),
                asyncio.create_task(self._chaos(steps, slots, collector, probe)),
                asyncio.create_task(self._capacity(steps, base_url)),
                asyncio.create_task(collector.run()),
            ]
            try:
                drained = await self._wait_until_done(tasks[:3], slots, collector, probe)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await probe.close()
                for slot in slots:
                    await slot.terminate()
            for task in tasks[:3]:
                failure = None if task.cancelled() else task.exception()
                if failure is not None:
                    raise failure
            stats = await sim_call(base_url, "GET", "/_sim/stats")
            built = await _servers_by_token_tag(base_url)
        return await self._judge(keys, topics, slots, stats, built, drained)

    def _membership(self, group: str, slot: str) -> dict[str, str]:
        if not self.config.static_membership:
            return {}
        return {"ECSP_GROUP_INSTANCE_ID": f"{group}-{slot}"}

    # ----- publishing
    async def _publish(self, keys: list[mix.PlannedKey], topic: str) -> None:
        publications = mix.publication_order(keys, self.config.seed)
        spread = self.config.spread
        batches: dict[int, list[mix.Publication]] = {}
        for publication in publications:
            batches.setdefault(int(publication.slot * spread), []).append(publication)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all"
        )
        await producer.start()
        try:
            for second, batch in sorted(batches.items()):
                await asyncio.sleep(max(0.0, self.started + second - time.monotonic()))
                async with self.kafka_lock:
                    sent = [
                        await producer.send(
                            topic, p.value, key=p.key.encode(), headers=list(p.headers)
                        )
                        for p in batch
                    ]
                    for metadata in await asyncio.gather(*sent):
                        end = self.ends.get(metadata.partition, 0)
                        self.ends[metadata.partition] = max(end, metadata.offset + 1)
                self.counters["published"] += len(batch)
        finally:
            await producer.stop()
        self.say(f"t={self.elapsed():.0f}s all {self.counters['published']} messages published")

    # ----- chaos
    async def _chaos(
        self, steps: list[Step], slots: list[WorkerSlot], collector: Collector, probe: OffsetProbe
    ) -> None:
        for step in steps:
            if step.action == "sold-out":
                continue  # `_capacity`'s, on its own timeline
            await asyncio.sleep(max(0.0, self.started + step.at - time.monotonic()))
            if step.action == "kill":
                running = [s for s in slots if s.running]
                victim = running[int(step.pick * len(running))]
                await victim.wait_logged(ASSIGNED, timeout=20)
                if self.config.defect:
                    await self._wait_commit_ahead(collector, probe)
                await victim.kill()
                self.counters["kills"] += 1
                self.say(f"t={self.elapsed():.0f}s SIGKILL worker {victim.name}")
                await asyncio.sleep(step.pause)
                await victim.start()
            elif step.action == "start-second":
                self.say(f"t={self.elapsed():.0f}s worker {slots[-1].name} joins")
                await slots[-1].start()
            elif step.action == "stop-second":
                # a SIGTERM before the process has its handlers (a slow start on a loaded box)
                # ends it with -15, which the crash check rightly counts: let it join first
                await slots[-1].wait_logged(ASSIGNED, timeout=30)
                self.say(f"t={self.elapsed():.0f}s worker {slots[-1].name} leaves (SIGTERM)")
                await slots[-1].terminate()
            else:
                for slot in slots:
                    await slot.wait_logged(ASSIGNED, timeout=30)
                await self._restart_broker()

    async def _capacity(self, steps: list[Step], base_url: str) -> None:
        """The `sold-out` steps, on time even while a kill or the broker restart is under way."""
        for step in steps:
            if step.action != "sold-out":
                continue
            await asyncio.sleep(max(0.0, self.started + step.at - time.monotonic()))
            await sim_call(base_url, "POST", "/_sim/faults", {"sold_out": list(step.sold_out)})
            self.counters["capacity_changes"] += 1

    async def _restart_broker(self) -> None:
        assert self.broker is not None
        async with self.kafka_lock:
            self.say(f"t={self.elapsed():.0f}s restarting the broker")
            down = time.monotonic()
            await self.broker.stop()
            await self.broker.start()
            self.counters["broker_restarts"] += 1
            self.counters["broker_restart_seconds"] += round(time.monotonic() - down)
            self.say(f"t={self.elapsed():.0f}s broker back after {time.monotonic() - down:.0f}s")

    async def _wait_commit_ahead(self, collector: Collector, probe: OffsetProbe) -> None:
        """Defect runs: kill at a moment when offsets were committed whose events are not out
        yet (bounded wait), so the loss the checks must catch is certain, not merely likely."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            committed = await probe.committed()
            ahead = sum(
                1
                for p, end in committed.items()
                for o in range(end)
                if (p, o) not in collector.origins
            )
            if ahead:
                self.counters["commits_ahead_at_kill"] += ahead
                return
            await asyncio.sleep(0.1)

    # ----- waiting for the end
    async def _wait_until_done(
        self,
        work: list[asyncio.Task[None]],
        slots: list[WorkerSlot],
        collector: Collector,
        probe: OffsetProbe,
    ) -> float | None:
        """Seconds until the group committed everything and the events are in (None: timeout)."""
        deadline = self.started + self.config.timeout
        committed_since: float | None = None
        last_report = 0.0
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            for slot in slots:
                if slot.reap():
                    self.say(f"t={self.elapsed():.0f}s worker {slot.name} DIED on its own")
                    async with self.kafka_lock:  # not while the broker restarts
                        await slot.start()
            if any(t.done() and not t.cancelled() and t.exception() for t in work):
                return None
            committed = await probe.committed()
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                self.say(
                    f"t={self.elapsed():.0f}s published {self.counters['published']}, "
                    f"committed {sum(committed.values())}, events {collector.events}"
                )
            if not all(t.done() for t in work) or not committed:
                continue
            if any(committed.get(p, 0) < end for p, end in self.ends.items()):
                committed_since = None
                continue
            committed_since = committed_since or time.monotonic()
            answered = all(
                (p, o) in collector.origins for p, e in self.ends.items() for o in range(e)
            )
            if answered or time.monotonic() - committed_since > 10:
                return self.elapsed()
        return None

    # ----- verdict
    async def _judge(
        self,
        keys: list[mix.PlannedKey],
        topics: dict[str, str],
        slots: list[WorkerSlot],
        stats: dict[str, Any],
        built: dict[str, int],
        drained: float | None,
    ) -> dict[str, Any]:
        c = self.config
        requests = await read_all(self.bootstrap, {topics["requests"]: c.partitions})
        isolation = "read_committed" if c.delivery == "exactly_once" else "read_uncommitted"
        outcomes = await read_all(
            self.bootstrap, {topics["results"]: 1, topics["failures"]: 1}, isolation=isolation
        )
        messages = [
            Message(r.partition, r.offset, r.key.decode() if r.key else None, r.value)
            for r in requests
        ]
        events = [Event.parse(r.key, r.value) for r in outcomes if r.value is not None]
        logs = {name: text for slot in slots for name, text in slot.log_texts().items()}
        observation = Observation(
            plan=keys,
            messages=messages,
            events=events,
            servers_by_token={k: int(v) for k, v in stats["servers_by_token"].items()},
            servers_without_token=int(stats["servers_without_token"]),
            built_by_token=built,
            exits=[e for slot in slots for e in slot.exits],
            logs=logs,
            secrets=secrets.ALL,
        )
        results = run_checks(observation)
        if c.delivery == "exactly_once":
            results.append(one_event_per_message(observation))
        copies: list[Event] = []
        if c.state_topic:
            state = await read_all(self.bootstrap, {topics["state"]: 1}, isolation=isolation)
            copies = [Event.parse(r.key, r.value) for r in state if r.value is not None]
            copies = [e for e in copies if e.outcome[0] in TERMINAL_KINDS]
            if c.delivery == "exactly_once":
                results.append(state_copies_are_the_answers(events, copies))
        answered_calls = stats["creates"] + stats["replays"] + stats["dry_runs"]
        return {
            "results": results,
            "seed": c.seed,
            "defect": c.defect or "none",
            "delivery": f"{c.delivery}, map {'on' if c.answered_map else 'off'}, "
            f"{'static' if c.static_membership else 'dynamic'} membership, events read "
            + isolation,
            "keys": len(keys),
            "messages published": len(messages),
            "by kind": dict(Counter(k.kind.value for k in keys)),
            "terminal events": len(events),
            "state topic terminal copies": len(copies) if c.state_topic else "-",
            "duplicate terminal events": len(events) - len({e.origin for e in events}),
            "worker SIGKILLs": self.counters["kills"],
            "worker processes started": sum(len(s.logs) for s in slots),
            "broker restarts": self.counters["broker_restarts"],
            "broker restart seconds": self.counters["broker_restart_seconds"],
            "rebalances (partition assignments logged)": sum(
                t.count(ASSIGNED) for t in logs.values()
            ),
            "offsets committed ahead of events at kill (defect only)": self.counters[
                "commits_ahead_at_kill"
            ],
            "api answers by status": stats["requests_by_status"],
            "api calls per message": round(stats["requests_total"] / max(1, len(messages)), 2),
            "create calls answered (creates + token replays + dry runs) per message": round(
                answered_calls / max(1, len(messages)), 2
            ),
            "faults injected": stats["faults_injected"],
            "creates / replays / dry runs": (stats["creates"], stats["replays"], stats["dry_runs"]),
            "servers created": stats["servers_total"],
            "servers there at the end (listed by token tag)": sum(built.values()),
            **_placement_figures(keys, events, self.counters["capacity_changes"]),
            "seconds until all committed": round(drained, 1) if drained is not None else "TIMEOUT",
            "seconds total": round(self.elapsed(), 1),
        }


async def _servers_by_token_tag(base_url: str) -> dict[str, int]:
    """The servers the simulator has at the end (built, not failed), counted by their client
    token tag, through the signed list API with the injected faults switched off."""
    quiet = {"error_rate": 0, "throttle_rate": 0, "drop_rate": 0, "latency_ms": [0, 0]}
    await sim_call(base_url, "POST", "/_sim/faults", quiet)
    await asyncio.sleep(LIST_LAG_SECONDS)  # the list shows a server this long after it started
    auth = AkSkAuth(Credential(secrets.TEST_AK, secrets.TEST_SK))
    async with aiohttp.ClientSession() as session:
        client = layered_client(session, base_url, auth)
        servers = await list_all_servers(client, PROJECT, ServerQuery())
    prefix = f"{TOKEN_TAG_KEY}="
    return dict(
        Counter(
            tag.removeprefix(prefix)
            for server in servers
            for tag in server.tags
            if tag.startswith(prefix)
        )
    )


def _placement_figures(
    keys: list[mix.PlannedKey], events: list[Event], capacity_changes: int
) -> dict[str, Any]:
    """How the `ecs-fallbacks` requests were placed: which placement took each (0: the body's
    own), how many placements were sent to the API and how many skipped, per reason."""
    fallback_keys = {p.key for p in keys if p.headers}
    chosen: dict[str, str] = {}
    sent: Counter[str] = Counter()
    skips: Counter[str] = Counter()
    for event in events:
        if event.key not in fallback_keys or event.placement is None:
            continue
        document = json.loads(event.raw)["data"]["placement"]
        chosen[event.key] = f"{document['flavorRef']}@{document['availability_zone']}"
        sent[str(len(document["attempts"]))] += 1
        skips.update(skip["reason"] for skip in document["skipped"])
    return {
        "capacity changes (sold-out offerings switched)": capacity_changes,
        "keys with ecs-fallbacks": len(fallback_keys),
        "fallback keys by the placement that took them": dict(Counter(chosen.values())),
        "fallback events by placements sent to the API": dict(sorted(sent.items())),
        "fallback skips by reason (over all their events)": dict(skips),
    }


def figures_text(figures: Mapping[str, Any]) -> str:
    width = max(len(k) for k in figures)
    return "\n".join(
        f"{k:<{width}}  {json.dumps(v) if isinstance(v, dict) else v}" for k, v in figures.items()
    )
