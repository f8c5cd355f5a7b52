"""Outcome notifications: a durable outbox, a signed sender with retries, and the signature check.

    notify_contacts(connection, contact_ids, now)   # in the transaction that made them final
    notify_campaign(connection, campaign_id, now)   # in the one that completed the campaign
    sender = NotificationSender(database, secret)   # POSTs them; see `_sender`
    verify(secret, body, request.headers["X-Campaigner-Signature"])   # on the receiving side

The secret comes from CAMPAIGNER_NOTIFY_SECRET (or `secret` under [notify] in campaigner.toml).
"""

from typing import TYPE_CHECKING, Any

from ._outbox import (
    CAMPAIGN_CANCELLED,
    CAMPAIGN_COMPLETED,
    CONTACT_FINAL,
    notify_campaign,
    notify_contacts,
    undelivered_count,
)
from ._signing import ID_HEADER, SIGNATURE_HEADER, sign, verify

if TYPE_CHECKING:
    from ._sender import NotificationSender

__all__ = [
    "CAMPAIGN_CANCELLED",
    "CAMPAIGN_COMPLETED",
    "CONTACT_FINAL",
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "NotificationSender",
    "notify_campaign",
    "notify_contacts",
    "sign",
    "undelivered_count",
    "verify",
]


def __getattr__(name: str) -> Any:
    """`NotificationSender`, imported when first asked for: it brings httpx and anyio (~0.05 s),
    which the store's modules, importing `notify_contacts`, never need (`campaigner report`)."""
    if name == "NotificationSender":
        from ._sender import NotificationSender

        return NotificationSender
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
