"""The `ecs-provisioner` command line: one module per sub-command, wired in `main`."""
