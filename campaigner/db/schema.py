"""The tables, as SQLAlchemy Core definitions.

The database is only ever created or changed by the Alembic migrations in `migrations/`; these
definitions are what the code queries against, and a test checks that the migrated schema matches
them on SQLite and PostgreSQL.

Times are stored in UTC (see `UTCDateTime`). Enumerated values (outcomes, states, kinds) are stored
as the plain text of the `StrEnum`s in `campaigner.model`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

# Explicit constraint names, so that migrations (and SQLite's batch mode) can refer to them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in and comes out as an aware UTC `datetime`.

    SQLite has no time zones, and a naive datetime is a bug waiting for a DST change: every value is
    converted to UTC on the way in (naive values are refused) and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: campaigner stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("provider", Text, nullable=False),
    Column("caller_id", Text, nullable=False),  # E.164
    Column("message_kind", Text, nullable=False),  # MessageKind
    # The template (tts, ssml), the URL (audio_url), the column name (audio_url_column) or the
    # provider's prompt / media name (prompt).
    Column("message", Text, nullable=False),
    Column("voice", Text),
    Column("language", Text),
    Column("calls_per_second", Float, nullable=False),
    Column("max_in_flight", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    # Seconds to wait before retrying after each retryable outcome.
    Column("retry_delay_busy", Integer, nullable=False),
    Column("retry_delay_no_answer", Integer, nullable=False),
    Column("retry_delay_failed", Integer, nullable=False),
    # The calling window, in each contact's own time zone: [window_start, window_end) on
    # window_days (comma-separated: mon,tue,...). window_end before window_start spans midnight.
    Column("window_start", Time, nullable=False),
    Column("window_end", Time, nullable=False),
    Column("window_days", Text, nullable=False),
    Column("default_region", Text),  # ISO 3166-1 alpha-2, for numbers without a country code
    Column("default_timezone", Text, nullable=False),  # IANA zone for numbers with no single zone
    Column("status", Text, nullable=False),  # CampaignStatus
    Column("status_reason", Text),  # why it was paused or cancelled, in the operator's words
    # Keypress responses (issue 6): digit -> label, e.g. {"1": "confirmed", "2": "cancelled"}.
    Column("response_keys", JSONDocument),
    Column("opt_out_key", Text),  # the digit that puts the number on the global do-not-call list
    Column("key_timeout", Integer),  # seconds to wait for a key after the message
    Column("replay_on_no_input", Boolean, nullable=False, server_default=text("false")),
    # Where each contact's final outcome and the campaign's completion are POSTed (signed).
    Column("notify_url", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
)

imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("rows_read", Integer, nullable=False, server_default=text("0")),
    Column("imported", Integer, nullable=False, server_default=text("0")),
    Column("duplicates", Integer, nullable=False, server_default=text("0")),
    Column("suppressed", Integer, nullable=False, server_default=text("0")),
    Column("rejected", Integer, nullable=False, server_default=text("0")),
    Column("status", Text, nullable=False),  # running, completed, failed
    Column("error", Text),  # why a failed import failed
    # The file's columns in order, less the phone column: its contacts' fields (a JSON list; the
    # order a jsonb object loses). NULL for a failed import.
    Column("fields", JSONDocument),
    Index(None, "campaign_id"),
)

# Rows of an import that did not become contacts (rejected or duplicate), and why.
import_rejects = Table(
    "import_rejects",
    metadata,
    Column("id", Integer, primary_key=True),
    # Not foreign keys: only an import writes these rows, with the run and the campaign it has
    # just written and read; neither is ever deleted, and the checks cost every row (migration
    # 0012).
    Column("import_id", Integer, nullable=False),
    Column("campaign_id", Integer, nullable=False),
    Column("row_number", Integer, nullable=False),  # data row, 1 = first row after the header
    Column("line_number", Integer, nullable=False),  # physical line of the file where it starts
    Column("phone_raw", Text),
    Column("reason", Text, nullable=False),
    Column("is_duplicate", Boolean, nullable=False),
    Column("fields", JSONDocument, nullable=False),  # the original row, column -> value
    Index(None, "import_id"),
    Index(None, "campaign_id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    # Not a foreign key: contacts are only created by an import that has just read its campaign,
    # campaigns are never deleted, and the check cost PostgreSQL ~3.5 µs of every imported row
    # (see benchmarks/RESULTS.md).
    Column("campaign_id", Integer, nullable=False),
    Column("phone", Text, nullable=False),  # E.164
    Column("phone_raw", Text, nullable=False),  # as written in the CSV
    Column("fields", JSONDocument, nullable=False),  # the CSV row's other columns
    # The same values as CSV cells in the file's order, `"v1","v2"` (`rowcheck.csv_cells`), which
    # SQLite's CSV export writes as they are. SQLite only (NULL on PostgreSQL, whose COPY quotes
    # each field itself), and NULL for a contact no import brought.
    Column("fields_csv", Text),
    Column("timezone", Text, nullable=False),  # IANA zone
    Column("timezone_source", Text, nullable=False),  # TimezoneSource
    Column("state", Text, nullable=False),  # ContactState
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime),  # when a PENDING contact is due
    Column("last_outcome", Text),  # Outcome
    Column("response", Text),  # label of the key pressed (see campaigns.response_keys)
    Column("responded_at", UTCDateTime),
    # The import that brought the contact in. Not a foreign key: imports go only with their
    # campaign, and the check would cost every imported row (see benchmarks/RESULTS.md).
    Column("import_id", Integer),
    Column("source_row", Integer),  # data row in the imported file
    # The contact's first and last attempt (lowest and highest attempt_number), copied from
    # attempts by triggers (migrations 0010, 0011 and 0013) so that a report is one scan of
    # contacts.
    Column("first_call_at", UTCDateTime),  # its requested_at
    Column("first_call_id", Text),  # its provider_call_id
    Column("last_call_at", UTCDateTime),
    Column("last_call_id", Text),
    Column("last_answered_at", UTCDateTime),
    Column("last_ended_at", UTCDateTime),
    Column("last_dtmf", Text),
    Column("last_reason", Text),  # its provider_reason
    Column("first_call_local", Text),  # its requested_local
    Column("last_call_local", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("campaign_id", "phone"),
    # The dialer's hot query: a campaign's pending contacts, soonest first. A number's contacts
    # across campaigns are found through the unique (campaign_id, phone) index, naming the
    # campaigns: an index on the phone alone would slow every import (see benchmarks/RESULTS.md).
    Index(None, "campaign_id", "state", "next_attempt_at"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("attempt_number", Integer, nullable=False),
    Column("provider", Text, nullable=False),
    # Ours, committed before the dial request goes out; sent as owner_ref / correlationId /
    # Idempotency-Key so that every webhook and every retry of the request can be tied to it.
    Column("correlation_key", Text, nullable=False),
    Column("provider_call_id", Text),
    Column("progress", Text, nullable=False),  # how far the call got; never moves backwards
    Column("requested_at", UTCDateTime, nullable=False),
    # requested_at in the contact's zone as the dialer saw it, `2026-11-20T09:03:09-05:00`
    # (`windows.local_text`); NULL when Python's zone database does not know the zone.
    Column("requested_local", Text),
    Column("answered_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("outcome", Text),  # Outcome, once final
    Column("provider_reason", Text),  # the provider's own words for the outcome
    Column("dtmf", Text),  # keys pressed
    Column("error", Text),  # what went wrong on our side or in the request
    # The worker that holds the attempt (see `workers`); NULL before workers were recorded. Not a
    # foreign key: adding one to this table would rebuild it on SQLite, and workers are kept.
    Column("worker_id", Integer),
    # When the request may first have left. NULL: claimed and certainly not sent, so a dead
    # worker's claim can go back to the queue; set (in batches) before the request is written.
    Column("sent_at", UTCDateTime),
    # One row per dial: the same attempt of a contact can never be recorded twice.
    UniqueConstraint("contact_id", "attempt_number"),
    UniqueConstraint("correlation_key"),
    Index(None, "provider", "provider_call_id"),
    Index(None, "campaign_id", "outcome"),
    # The calls of the last minute (`status`), a campaign's first and last call (reports):
    # range reads. Attempts are inserted in time order, so it grows at its end.
    Index(None, "campaign_id", "requested_at"),
)

# Every webhook body exactly as received, before it is interpreted.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("provider", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("content_type", Text),
    # What the body named, so that an orphan can be matched when its attempt appears.
    Column("correlation_key", Text),
    Column("provider_call_id", Text),
    Column("attempt_id", Integer, ForeignKey("attempts.id", ondelete="SET NULL")),
    Column("status", Text, nullable=False),  # received, applied, duplicate, orphan, unparseable
    Index(None, "attempt_id"),
    # Only orphans are looked up by what they named (`match_orphans`); indexing every event's
    # key and call id cost each webhook two inserts at random places in two indexes.
    Index(
        "ix_events_orphan_correlation_key",
        "correlation_key",
        sqlite_where=text("status = 'orphan'"),
        postgresql_where=text("status = 'orphan'"),
    ),
    Index(
        "ix_events_orphan_provider_call_id",
        "provider",
        "provider_call_id",
        sqlite_where=text("status = 'orphan'"),
        postgresql_where=text("status = 'orphan'"),
    ),
)

# Do-not-call numbers: global (campaign_id NULL) or for one campaign.
suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("phone", Text, nullable=False),  # E.164
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE")),
    Column("source", Text, nullable=False),  # manual, file:<name>, keypress, ...
    # The campaign whose call put the number here (a keypress opt-out). Not a foreign key: the
    # entry must outlive that campaign.
    Column("source_campaign_id", Integer),
    Column("reason", Text),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("phone", "campaign_id"),
    # NULLs are distinct in a unique constraint, so global entries need an index of their own.
    Index(
        "uq_suppressions_global_phone",
        "phone",
        unique=True,
        sqlite_where=text("campaign_id IS NULL"),
        postgresql_where=text("campaign_id IS NULL"),
    ),
)

# The outbox of outcome notifications: written in the same transaction as what they report, sent
# (signed, with retries) by whichever campaigner process is running, until the target says 2xx.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    # Stable across retries and restarts, so that the target can deduplicate.
    Column("notification_id", Text, nullable=False, unique=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="CASCADE")),  # NULL: campaign
    Column("kind", Text, nullable=False),  # contact.final, campaign.completed
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),  # the exact JSON body that is signed and sent
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("delivered_at", UTCDateTime),
    Column("last_error", Text),
    # The sender's query: undelivered notifications that are due.
    Index(
        "ix_notifications_undelivered",
        "next_attempt_at",
        sqlite_where=text("delivered_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL"),
    ),
    Index(None, "campaign_id"),
)

# The `campaigner run` processes (workers) dialing each campaign. A worker holds its claims (the
# attempts naming it) while its lease lasts: it renews `lease_expires_at` with every heartbeat, and
# once the lease has expired (or, on the same host, its process is gone) another worker stops it,
# puts its unsent claims back in the queue and takes over its calls still live.
workers = Table(
    "workers",
    metadata,
    Column("id", Integer, primary_key=True),  # never reused: the fencing token of its claims
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    # The kernel boot and PID namespace the pid belongs to: only a worker with the same one can
    # tell whether the process still exists.
    Column("pid_space", Text, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("lease_expires_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime),
    Column("stop_reason", Text),  # how it ended: its own words, or why another worker stopped it
    Index(None, "campaign_id", "stopped_at"),
)

# A campaign's calls-per-second budget, shared by its workers on PostgreSQL: one row per second
# (Unix time), whose `taken` slots workers reserve in batches; rows of past seconds are deleted.
pace_slots = Table(
    "pace_slots",
    metadata,
    Column("campaign_id", Integer, primary_key=True, autoincrement=False),
    Column("epoch_second", BigInteger, primary_key=True, autoincrement=False),
    Column("taken", Integer, nullable=False),
    Column("granted", Integer, nullable=False),  # the size of the last reservation
)
