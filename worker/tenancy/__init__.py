"""Tenants: the teams one worker serves, each bound to the Kafka topics only it may use.

`model` is the tenants file's schema (`ECSP_TENANTS_FILE`), `load` reads and validates it, and
`sharing` refuses what two tenants must never share (a project, a token namespace, a secret
directory). Nothing here knows Kafka or the pipeline: `worker.assembly` turns the file into the
pipeline's tenants and the consumer's topics.
"""
