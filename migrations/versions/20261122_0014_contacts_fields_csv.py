"""Each import's columns in file order (imports.fields), and each contact's fields as CSV cells
ready to write (contacts.fields_csv): issue 4's CSV at 300,000 rows/s.

The four CSV fields of the benchmark, each a JSON extraction and a formula test, were 38% of the
instructions of SQLite's CSV statement; the stored cells are written as they are. imports.fields
gives the report its field columns in the file's order, which PostgreSQL's jsonb loses (it
orders an object's keys by length).

Backfilled here: an import's columns from one of its contacts' keys, in the order the database
keeps them. On PostgreSQL that order is jsonb's, not the file's: the file's order of the imports
made before this migration is lost. An import with no contacts (failed, or every row left out)
keeps NULL. On SQLite, each imported contact's cells are built by the database, in its import's
column order, by the rule of the importer (`rowcheck.csv_cells`), except for an import with a
column a JSON path cannot name (a `"` or `\\` in it): the report reads those fields whole.
PostgreSQL keeps NULL cells: its COPY quotes each field itself, and the importer does not
build them there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 05:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# A formula's first characters: campaigner's rule (`rowcheck.FORMULA_STARTS`) at this revision.
_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def upgrade() -> None:
    op.add_column("imports", sa.Column("fields", _JSON, nullable=True))
    op.add_column("contacts", sa.Column("fields_csv", sa.Text(), nullable=True))
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    imports = bind.execute(sa.text("SELECT id, campaign_id FROM imports ORDER BY id")).all()
    for import_id, campaign_id in imports:
        where = {"campaign": campaign_id, "import": import_id}
        found = bind.execute(
            sa.text(
                "SELECT fields FROM contacts"
                " WHERE campaign_id = :campaign AND import_id = :import LIMIT 1"
            ),
            where,
        ).scalar()
        if found is None:
            continue
        names = list(json.loads(found) if isinstance(found, str) else found)
        bind.execute(
            sa.text("UPDATE imports SET fields = :fields WHERE id = :import"),
            {"fields": json.dumps(names, ensure_ascii=False), "import": import_id},
        )
        if not sqlite or any('"' in name or "\\" in name for name in names):
            continue
        paths = {f"name{n}": f'$."{name}"' for n, name in enumerate(names)}
        bind.execute(
            sa.text(
                f"UPDATE contacts SET fields_csv = {_cells(len(names))}"
                " WHERE campaign_id = :campaign AND import_id = :import"
            ),
            {**where, **paths},
        )


def _cells(count: int) -> str:
    """`"v1","v2"`: each value quoted by printf's %w (which doubles its quotes), prefixed with `'`
    when its first byte starts a formula."""
    if not count:
        return "''"
    starts = ", ".join(f"x'{ord(start):02X}'" for start in _STARTS)

    def cell(n: int) -> str:
        value = f"ifnull(json_extract(fields, :name{n}), '')"
        first = f"substr(CAST({value} AS BLOB), 1, 1)"
        return f"CASE WHEN {first} IN ({starts}) THEN '''' || {value} ELSE {value} END"

    pattern = ",".join(['"%w"'] * count)
    return f"printf('{pattern}', {', '.join(cell(n) for n in range(count))})"


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 on): a batch's copy of contacts would break the
    # triggers of 0010 that name it.
    op.drop_column("contacts", "fields_csv")
    op.drop_column("imports", "fields")
