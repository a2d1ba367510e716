"""`ecs-provisioner doctor`'s checks of a deployment, each a `checklist.Check` with its fix.

`local` checks what needs no network (configuration, policy file, secrets directory), `kafka`
the brokers, topics and permissions (`kafka_metadata`: the Metadata request that reports them),
`ecs` the endpoint and the credentials with one signed read-only call. The command that runs
and prints them is `worker.cli.doctor`.
"""
