"""The checks that need no network: the settings `run` would start with, the guardrails policy
file and the secrets directory.

`configuration` loads the settings as `run` does (every setting valid, the ones `run` needs
present, `…_FILE` secrets readable) and, when that fails, as the Kafka commands do, so the
network checks can still run. Problems name settings, never values (`worker.ops.settings`).
"""

from __future__ import annotations

import os
from pathlib import Path

from worker.doctor.checklist import Check, failed, passed
from worker.ops.settings import ConfigError, Settings, load_settings
from worker.policy.load import PolicyFileError, read_policy


def configuration(config_file: str | None) -> tuple[Check, Settings | None]:
    """The configuration check and the settings to check the rest with (None: unusable)."""
    name = "configuration"
    source = f"{config_file} and the environment" if config_file else "the environment"
    try:
        settings = load_settings(config_file, for_run=True)
    except ConfigError as exc:
        fix = "set or correct the settings named (README, Configuration); `run` refuses to start"
        try:
            settings = load_settings(config_file)
        except ConfigError:
            return failed(name, str(exc), fix), None
        return failed(name, str(exc), fix), settings
    return passed(name, f"ECSP_* settings from {source} are valid for `run`"), settings


def policy_file(settings: Settings) -> Check:
    name = "policy file"
    path = settings.policy_file
    if path is None:
        return passed(name, "none (ECSP_POLICY_FILE unset: no guardrails)")
    try:
        _, policy = read_policy(path)
    except PolicyFileError as exc:
        shown = "; ".join(exc.problems[:3]) + (" …" if len(exc.problems) > 3 else "")
        return failed(
            name,
            f"{path}: {shown}",
            f"`ecs-provisioner policy check {path}` lists every problem; fix the file or unset "
            "ECSP_POLICY_FILE",
        )
    return passed(name, f"{path}: valid, rules for {len(policy.projects)} project(s) + default")


def secrets_directory(settings: Settings) -> Check:
    name = "secrets directory"
    directory = settings.secret_dir
    if directory is None:
        return passed(name, "none (ECSP_SECRET_DIR unset: $NAME secrets from the environment)")
    problem = _unreadable(directory)
    if problem is not None:
        return failed(
            name,
            f"{directory}: {problem}",
            "mount the secret of the adminPass references there (deploy/k8s: admin-pass), "
            "or unset ECSP_SECRET_DIR",
        )
    count = sum(1 for entry in directory.iterdir() if not entry.name.startswith("."))
    return passed(name, f"{directory}: readable, {count} secret file(s)")


def _unreadable(directory: Path) -> str | None:
    if not directory.exists():
        return "does not exist"
    if not directory.is_dir():
        return "is not a directory"
    if not os.access(directory, os.R_OK | os.X_OK):
        return "cannot be read by this user"
    return None
