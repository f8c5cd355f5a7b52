"""Structured log lines: an action name, then `field=value` pairs, also attached to the record.

Callers pass masked numbers (`phones.mask`) and never a secret: nothing here can tell them apart.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import StatementError

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


def describe_error(exc: BaseException) -> str:
    """An error on one short line. For SQL errors, the driver's words only: SQLAlchemy's message
    lists the statement's parameters, and those are webhook bodies with phone numbers in them."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
