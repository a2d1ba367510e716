"""Maintainers' tools run from the repository root (`python -m tools.…`); not shipped with the
worker's package."""
