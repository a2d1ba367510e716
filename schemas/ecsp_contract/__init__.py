"""The ecs-provisioner contract: request body models, event models, CloudEvent envelope, exports.

Its own distribution, `ecs-provisioner-contract` (the `schemas/` folder, pydantic only), under an
import name no application uses. It imports nothing from the worker, so publishers and
subscribers depend on it alone: `pip install ./schemas` or `ecs-provisioner-contract`.
"""
