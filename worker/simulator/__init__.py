"""Faithful simulator of the Huawei Cloud ECS API (create, jobs, servers, IAM tokens).

It mirrors the API, not the worker: it imports only `worker.ecs.signing` (to verify AK/SK
signatures with the one implementation of the algorithm) and the `schemas` contract.
"""
