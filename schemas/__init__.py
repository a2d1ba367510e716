"""The ecs-provisioner contract: request body models, event models, CloudEvent envelope, exports.

Imports nothing from `worker/`, so publishers and subscribers can use it on its own.
"""
