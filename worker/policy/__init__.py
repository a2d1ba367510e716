"""Guardrails: the platform team's declarative policy of what the worker may create.

`model` is the policy file's schema, `check` finds the rules a request breaks, `load` reads and
validates a file, `source` keeps the policy in force and re-reads the file when it changes,
`budget` counts servers created per project in a sliding window. Nothing here knows Kafka or the
ECS client; the pipeline turns violations into `failed` events.
"""
