"""Fixtures of the deployment-artefact tests: kustomize renders of every overlay and component.

Rendering uses `kubectl kustomize` (kustomize built into kubectl). A machine without kubectl
fails these tests with install instructions instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

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


@pytest.fixture(scope="session")
def rendered_overlays() -> dict[str, list[Manifest]]:
    return {name: kustomize(K8S / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="session")
def rendered_components(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, list[Manifest]]:
    return {
        name: render_base_with(path, tmp_path_factory.mktemp(f"with-{name}"))
        for name, path in sorted(COMPONENTS.items())
    }


@pytest.fixture(scope="session")
def secret_templates() -> list[Manifest]:
    path = K8S / "base" / "secrets.template.yaml"
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
