"""A minimal valid v1.1 create body, shared by the client, simulator and benchmark suites."""

from __future__ import annotations

from typing import Any


def server_body(count: int = 1, **extra: Any) -> dict[str, Any]:
    """A valid postPaid create body; `extra` fields go into `server`."""
    server: dict[str, Any] = {
        "imageRef": "67f433d8-ed0e-4321-a8a2-a71838539e09",
        "flavorRef": "s6.small.1",
        "name": "web",
        "vpcid": "2a6f4aa6-d93e-45f5-a8cb-b030dbf8cd68",
        "nics": [{"subnet_id": "ef039b60-6a14-42d1-963b-687b627fea08"}],
        "root_volume": {"volumetype": "SSD"},
        "count": count,
    }
    server.update(extra)
    return {"server": server}
