"""Signing notification bodies, and checking a signature as a receiving system would.

The signature is `sha256=` and the hex HMAC-SHA256 of the exact body bytes, keyed with the secret
from CAMPAIGNER_NOTIFY_SECRET, in the `X-Campaigner-Signature` header.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Campaigner-Signature"
ID_HEADER = "X-Campaigner-Notification-Id"
_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The `X-Campaigner-Signature` value for `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{_PREFIX}{digest}"


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` (the header's value) signs `body` with `secret`; constant time."""
    if not signature or not signature.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), signature.strip())
