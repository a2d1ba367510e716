"""Allows `python -m worker`, the same as the `ecs-provisioner` command."""

import sys

from worker.cli.main import main

sys.exit(main())
