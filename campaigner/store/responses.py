"""Key presses heard on calls: the contact's response, and the opt-out key's do-not-call entry.

Called by `store.attempts` in the transaction that records the key on the attempt, before the
contact's next state is decided (so a notification of its final outcome carries the response).

The opt-out key, in that same transaction: the number goes on the global do-not-call list
(source `keypress`, the campaign it came from, the time), and every pending contact with that
number, in every campaign, becomes `suppressed` (what the do-not-call list does to a pending
contact everywhere else; `cancelled` is kept for an operator's cancelling). A contact with that
number already claimed by a dialer is stopped there (see `campaigner.dialer.engine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..db.schema import campaigns, contacts, suppressions
from ..model import ContactState, MessageKind
from ..notifications import notify_contacts
from ..providers import RenderedMessage
from ..responses import OPT_OUT, KeyMenu
from .campaigns import campaign_from_row

KEYPRESS_SOURCE = "keypress"
REPLAYING = "no key pressed: replaying the message"  # attempts.provider_reason meanwhile
_CHUNK = 500


def record_responses(
    conn: Connection, pressed: Sequence[tuple[int, int, str]], now: datetime
) -> list[str]:
    """Apply keys pressed, as (campaign id, contact id, keys); returns the numbers opted out."""
    menus = _menus(conn, {campaign_id for campaign_id, _, _ in pressed})
    responses: list[dict[str, Any]] = []
    opt_outs: dict[int, int] = {}  # contact id -> campaign id
    for campaign_id, contact_id, keys in pressed:
        menu, _ = menus.get(campaign_id, (KeyMenu(), ""))
        response = menu.response_for(keys)
        if response is None:
            continue
        responses.append({"r_id": contact_id, "r_response": response, "r_at": now})
        if response == OPT_OUT:
            opt_outs[contact_id] = campaign_id
    if responses:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == bindparam("r_id"))
            .values(response=bindparam("r_response"), responded_at=bindparam("r_at")),
            responses,
        )
    if not opt_outs:
        return []
    phones = dict(
        conn.execute(
            select(contacts.c.id, contacts.c.phone).where(contacts.c.id.in_(list(opt_outs)))
        ).all()
    )
    entries: dict[str, dict[str, Any]] = {}
    for contact_id, campaign_id in opt_outs.items():
        menu, name = menus[campaign_id]
        entries.setdefault(
            phones[contact_id],
            {
                "phone": phones[contact_id],
                "campaign_id": None,
                "source": KEYPRESS_SOURCE,
                "source_campaign_id": campaign_id,
                "reason": f"pressed the opt-out key {menu.opt_out_key} on a call of {name}",
                "created_at": now,
            },
        )
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(dialect_insert(suppressions).on_conflict_do_nothing(), list(entries.values()))
    _suppress_pending(conn, list(entries), now)
    return list(entries)


def _suppress_pending(conn: Connection, phones: list[str], now: datetime) -> None:
    """Every pending contact with these numbers, in every campaign, becomes suppressed."""
    # Naming the campaigns lets the unique (campaign_id, phone) index find the contacts.
    condition = (
        contacts.c.campaign_id.in_(select(campaigns.c.id)),
        contacts.c.phone.in_(phones),
        contacts.c.state == ContactState.PENDING.value,
    )
    ids = list(conn.execute(select(contacts.c.id).where(*condition)).scalars())
    for start in range(0, len(ids), _CHUNK):
        conn.execute(
            update(contacts)
            .where(contacts.c.id.in_(ids[start : start + _CHUNK]))
            .values(state=ContactState.SUPPRESSED.value, updated_at=now)
        )
    notify_contacts(conn, ids, now)


def _menus(conn: Connection, campaign_ids: set[int]) -> dict[int, tuple[KeyMenu, str]]:
    rows = conn.execute(
        select(
            campaigns.c.id, campaigns.c.response_keys, campaigns.c.opt_out_key, campaigns.c.name
        ).where(campaigns.c.id.in_(sorted(campaign_ids)))
    )
    return {
        campaign_id: (KeyMenu(keys=keys or {}, opt_out_key=opt_out), name)
        for campaign_id, keys, opt_out, name in rows
    }


def replaying_campaigns(conn: Connection, campaign_ids: set[int]) -> set[int]:
    """Which of these campaigns play the message once more when no key is pressed."""
    return set(
        conn.execute(
            select(campaigns.c.id).where(
                campaigns.c.id.in_(sorted(campaign_ids)), campaigns.c.replay_on_no_input
            )
        ).scalars()
    )


def replay_messages(
    conn: Connection, wanted: Sequence[tuple[int, int]]
) -> dict[int, tuple[RenderedMessage, int | None]]:
    """What each contact hears again, by contact id, from (campaign id, contact id) pairs: its
    message rendered as on the first play, and the campaign's key timeout."""
    settings = {
        row["id"]: campaign_from_row(row).settings
        for row in conn.execute(
            select(campaigns).where(campaigns.c.id.in_(sorted({c for c, _ in wanted})))
        ).mappings()
    }
    fields = dict(
        conn.execute(
            select(contacts.c.id, contacts.c.fields).where(
                contacts.c.id.in_(sorted({contact for _, contact in wanted}))
            )
        ).all()
    )
    found: dict[int, tuple[RenderedMessage, int | None]] = {}
    for campaign_id, contact_id in wanted:
        campaign = settings[campaign_id]
        message = campaign.played_message()
        values = fields.get(contact_id) or {}
        template = message.template()
        content = message.body
        if template is not None:
            content = template.render(values)
        elif message.kind is MessageKind.AUDIO_URL_COLUMN:
            content = (values.get(message.body) or "").strip()
        rendered = RenderedMessage(message.kind, content, message.voice, message.language)
        found[contact_id] = (rendered, campaign.keys.key_timeout)
    return found
