"""The access keys the gateway accepts: permanent AK/SK pairs and temporary ones with a token.

Owns `KeyStore`. Permanent pairs come from the config and can be replaced as a whole at run time
(`PUT /_sim/credentials`: a rotated key, the old one is refused from then on). Temporary keys
(AK/SK + security token, as IAM's security-token API and the metadata service issue them) are
accepted with their token until they expire or are revoked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from worker.simulator.wire import IdSource


@dataclass(frozen=True)
class TemporaryKey:
    """One issued temporary credential."""

    access_key: str
    secret_key: str = field(repr=False)
    security_token: str = field(repr=False)
    expires_at: float


@dataclass
class KeyStore:
    """AK -> SK, and AK -> temporary key; `secret_for` says whether a request's key is good."""

    permanent: dict[str, str]
    temporary: dict[str, TemporaryKey] = field(default_factory=dict)

    def replace_permanent(self, pairs: Mapping[str, str]) -> None:
        """Rotation: exactly these AK/SK pairs are valid from now on."""
        self.permanent = dict(pairs)

    def issue(self, ids: IdSource, ttl_seconds: float, now: float) -> TemporaryKey:
        """A new temporary key valid for ``ttl_seconds``."""
        key = TemporaryKey(
            access_key="T" + ids.job_id()[:19].upper(),
            secret_key=ids.job_id() + ids.job_id()[:8],
            security_token="gQpjbi1ub3J0aC00" + ids.subject_token()[3:],
            expires_at=now + ttl_seconds,
        )
        self.temporary[key.access_key] = key
        return key

    def revoke(self, access_key: str) -> bool:
        """Refuse a temporary key from now on; False if it was never issued."""
        return self.temporary.pop(access_key, None) is not None

    def secret_for(
        self, access_key: str, security_token: str | None, now: float
    ) -> tuple[str | None, str]:
        """(the SK to verify with, "") or (None, why the key is refused)."""
        secret = self.permanent.get(access_key)
        if secret is not None:
            return secret, ""
        temporary = self.temporary.get(access_key)
        if temporary is None:
            return None, "the access key does not exist"
        if security_token != temporary.security_token:
            return None, "the security token is missing or does not match the access key"
        if now >= temporary.expires_at:
            return None, "the security token has expired"
        return temporary.secret_key, ""
