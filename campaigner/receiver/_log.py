"""Structured log lines: an action name, then `field=value` pairs, also attached to the record.

Callers pass masked numbers (`phones.mask`) and never a secret: nothing here can tell them apart.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("campaigner.receiver")


def log(level: int, action: str, **fields: object) -> None:
    """One line such as `webhook.refused provider=enablex status=401 reason=credentials`."""
    if not logger.isEnabledFor(level):
        return
    words = " ".join(f"{name}={value}" for name, value in fields.items())
    logger.log(
        level,
        "%s %s" if words else "%s%s",
        action,
        words,
        extra={"action": action, "fields": fields},
    )
