"""What a fresh interpreter loads after importing some modules: the layering tests' probe."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def loaded_by(*modules: str) -> set[str]:
    """Every module a fresh interpreter has loaded after importing `modules`."""
    code = "import json, sys\n"
    code += "".join(f"import {name}\n" for name in modules)
    code += "print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def offending(loaded: set[str], *forbidden: str) -> list[str]:
    return sorted(
        name for name in loaded for f in forbidden if name == f or name.startswith(f + ".")
    )


def package_modules(package: object) -> list[str]:
    path = package.__path__  # type: ignore[attr-defined]
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return [info.name for info in pkgutil.iter_modules(path, prefix)]
