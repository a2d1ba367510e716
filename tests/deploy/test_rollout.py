"""Rollout settings that always complete, and static membership from the pod name.

A rollout with maxUnavailable 0 ends only when every surge pod turns Ready. At full scale
(replicas = partitions) the surge pod gets no partition, so readiness must not require one
(tests/e2e/test_membership.py shows the worker's side: a spare member is Ready).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.manifests import setting, the, worker_container

Manifest = dict[str, Any]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_rollout_surges_and_never_drops_below_the_replica_count(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    deployment = the(rendered_overlays[overlay], "Deployment", "ecs-provisioner")
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert (rolling["maxSurge"], rolling["maxUnavailable"]) == (1, 0)
    probe = worker_container(rendered_overlays[overlay])["readinessProbe"]
    assert probe["httpGet"]["path"] == "/readyz"  # membership, not partitions (worker side)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_static_membership_uses_the_pod_name(
    overlay: str, rendered_overlays: dict[str, list[Manifest]]
) -> None:
    objects = rendered_overlays[overlay]
    env = {e["name"]: e for e in worker_container(objects)["env"]}
    source = env["ECSP_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert source == "metadata.name"
    session = float(setting(objects, "kafka_session_timeout_seconds"))
    assert 20 <= session <= 60  # long enough for a container restart, short for a lost pod
