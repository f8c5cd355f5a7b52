"""Outcome notifications: a durable outbox, a signed sender with retries, and the signature check.

    notify_contacts(connection, contact_ids, now)   # in the transaction that made them final
    notify_campaign(connection, campaign_id, now)   # in the one that completed the campaign
    sender = NotificationSender(database, secret)   # POSTs them; see `_sender`
    verify(secret, body, request.headers["X-Campaigner-Signature"])   # on the receiving side

The secret comes from CAMPAIGNER_NOTIFY_SECRET (or `secret` under [notify] in campaigner.toml).
"""

from ._outbox import (
    CAMPAIGN_CANCELLED,
    CAMPAIGN_COMPLETED,
    CONTACT_FINAL,
    notify_campaign,
    notify_contacts,
    undelivered_count,
)
from ._sender import NotificationSender
from ._signing import ID_HEADER, SIGNATURE_HEADER, sign, verify

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
