"""A directory that changes the way a mounted Kubernetes secret does when the secret is updated.

Each key is a symlink `<key> -> ..data/<key>`; `..data` is a symlink to a versioned directory and
an update writes a new version, then swaps `..data` atomically (rename), so a reader sees the old
set or the new set of files, never a mix.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

_versions = itertools.count(1)


def write_secret(directory: Path, files: dict[str, str]) -> None:
    """Create or atomically update the mounted secret `directory` with `files`."""
    directory.mkdir(parents=True, exist_ok=True)
    version = directory / f"..v{os.getpid()}-{next(_versions)}"
    version.mkdir()
    for name, value in files.items():
        (version / name).write_text(value + "\n", encoding="utf-8")
    staged = directory / "..data_tmp"
    staged.unlink(missing_ok=True)
    staged.symlink_to(version.name)
    staged.replace(directory / "..data")
    for name in files:
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")
