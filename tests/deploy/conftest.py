"""Fixtures of the deployment-artefact tests: kustomize renders of every overlay and component
(the rendering itself is tests/support/manifests.py)."""

from __future__ import annotations

import pytest
import yaml

from tests.support.manifests import COMPONENTS, K8S, OVERLAYS, Manifest, kustomize, render_base_with


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
