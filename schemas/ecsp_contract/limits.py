"""Bounds a request record must keep, checked by the worker before it trusts anything in it.

They keep every later step (events, logs, serialisation) far from Python's and pydantic's own
limits; each has its own `decode` failure code (`ecsp_contract.failures.WorkerErrorCode`).
"""

from __future__ import annotations

MAX_KEY_BYTES = 1024
"""Longest request key accepted (`ECSP.KeyTooLarge`)."""
MAX_HEADER_BYTES = 256
"""Longest `ecs-project-id` header accepted (`ECSP.HeaderTooLarge`)."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of objects/arrays accepted; the create body needs 5 (`ECSP.TooDeep`)."""
MAX_INT_DIGITS = 100
"""Longest integer literal accepted; the API's integers are 64-bit (`ECSP.NumberTooLarge`)."""
MAX_OBJECT_KEYS = 2000
"""Most object keys (all objects together) accepted in one value (`ECSP.TooManyKeys`). The
largest body the API documents has about 1,300 (59 data disks, 12 NICs, every option set);
every key costs CPU in validation and redaction, so 10,000 unknown keys must not get that far."""
