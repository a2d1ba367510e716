"""Rendered Kubernetes manifests for the deploy tests: `kubectl kustomize` of the overlays and
components, and lookups into the result (objects by kind and name, the worker's container and
its effective settings).

Rendering uses `kubectl kustomize` (kustomize built into kubectl). A machine without kubectl
fails these tests with install instructions instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from worker.ops.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
MONITORING = REPO / "deploy" / "monitoring"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
#: Components that can be added to the base; monitoring lives beside the k8s tree.
COMPONENTS = {
    **{p.name: p for p in (K8S / "components").iterdir() if p.is_dir()},
    "monitoring": MONITORING,
}

Manifest = dict[str, Any]

KUBECTL_MISSING = (
    "kubectl is required to render the kustomizations (`kubectl kustomize`). Install it, e.g. "
    "`apt-get install -y kubectl` from the Kubernetes apt repository, or put the static binary "
    "of https://kubernetes.io/docs/tasks/tools/ on PATH (kubectl >= 1.27, kustomize >= 5)."
)


def kubectl_path() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail(KUBECTL_MISSING)
    return path


def kustomize(directory: Path) -> list[Manifest]:
    """Renders a kustomization directory and returns its objects."""
    result = subprocess.run(
        [kubectl_path(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    objects = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert objects, f"{directory} rendered no objects"
    return objects


def render_base_with(component: Path, workdir: Path) -> list[Manifest]:
    """Renders the base plus one component through a throw-away kustomization in `workdir`."""
    (workdir / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # kustomize refuses absolute paths to other kustomizations
                "resources": [os.path.relpath(K8S / "base", workdir)],
                "components": [os.path.relpath(component, workdir)],
            }
        )
    )
    return kustomize(workdir)


KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
BUILTIN_API_PREFIXES = ("apps/", "v1", "policy/", "networking.k8s.io/")

#: The settings naming the worker's five topics.
TOPIC_SETTINGS = (
    "topic_requests",
    "topic_results",
    "topic_failures",
    "topic_progress",
    "topic_state",
)


def validate_builtin_objects(objects: list[Manifest]) -> None:
    """Validates every built-in Kubernetes object against each supported version's schema."""
    for obj in objects:
        if obj["apiVersion"].startswith(BUILTIN_API_PREFIXES):
            for version in KUBERNETES_VERSIONS:
                kubernetes_validate.validate(obj, version, strict=True)


WORKER = "ecs-provisioner"


def objects_of(objects: list[Manifest], kind: str, name_prefix: str = "") -> list[Manifest]:
    """Objects of `kind` whose name starts with `name_prefix` (generated names carry a hash)."""
    return [
        obj
        for obj in objects
        if obj["kind"] == kind and str(obj["metadata"]["name"]).startswith(name_prefix)
    ]


def the(objects: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def worker_container(objects: list[Manifest]) -> dict[str, Any]:
    pod = the(objects, "Deployment", WORKER)["spec"]["template"]["spec"]
    containers: list[dict[str, Any]] = pod["containers"]
    assert [c["name"] for c in containers] == ["worker"]
    return containers[0]


def worker_env(objects: list[Manifest]) -> dict[str, str]:
    """The ECSP_* variables the worker gets from its ConfigMap (the only source of config)."""
    ref = worker_container(objects)["envFrom"][0]["configMapRef"]["name"]
    data: dict[str, str] = the(objects, "ConfigMap", ref)["data"]
    return data


def setting(objects: list[Manifest], name: str) -> Any:
    """The effective value of a setting: the ConfigMap's, else the Settings default."""
    env = worker_env(objects)
    key = f"ECSP_{name.upper()}"
    if key in env:
        return env[key]
    return Settings.model_fields[name].default
