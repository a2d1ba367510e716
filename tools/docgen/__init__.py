"""Generators of the Markdown tables that the code defines (settings, failure codes, the
command line): `python -m tools.docgen.NAME` rewrites its section, `--check` says whether it is
stale. Tests run every `--check`, so docs cannot drift from the code."""
