"""Many rows through one Core statement, converted once, run by the driver's executemany.

The receiver writes a few hundred event, attempt and contact rows per batch. Given a list of
dicts, SQLAlchemy builds and processes every row's parameters anew (`construct_params`, then each
value's bind processor, in Python): measured on the receiver's benchmark, more CPU than the
database's own work. A `BulkStatement` is still a Core statement: it is compiled once per dialect,
its columns' own bind processors convert each value (`UTCDateTime` included), values the batch
shares (the time, the provider) are converted once, and the driver gets plain tuples or dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Table, bindparam, insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

_Processor = Callable[[Any], Any] | None


class _Compiled:
    """The statement as one dialect runs it."""

    __slots__ = ("positional", "slots", "sql")

    def __init__(self, statement: ClauseElement, names: Sequence[str], dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        binds = compiled.binds
        processors: dict[str, _Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in binds.items()
        }
        self.positional = compiled.positiontup is not None
        order = list(compiled.positiontup or binds)
        index = {name: position for position, name in enumerate(names)}
        # (where in a row, or None for a shared value; the bind's name; its processor)
        self.slots = [(index.get(name), name, processors[name]) for name in order]


class BulkStatement:
    """`statement` run for many rows; each row holds the values of `names`, in that order.

    Bind parameters of the statement not in `names` take the same value for every row, given to
    `execute` by name.
    """

    def __init__(self, statement: ClauseElement, names: Sequence[str]) -> None:
        self._statement = statement
        self._names = tuple(names)
        self._compiled: dict[str, _Compiled] = {}

    @classmethod
    def insert(cls, table: Table, per_row: Sequence[str], shared: Sequence[str]) -> BulkStatement:
        """An INSERT into `table` of the columns `per_row` (a value each row) and `shared` (one
        value for every row, given to `execute` by name)."""
        columns = (*per_row, *shared)
        return cls(insert(table).values({name: bindparam(name) for name in columns}), per_row)

    def execute(
        self,
        conn: Connection,
        rows: Iterable[Sequence[Any]],
        shared: Mapping[str, Any] | None = None,
    ) -> None:
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(
                self._statement, self._names, dialect
            )
        rows = list(rows)
        if not rows:
            return
        # Column by column, so that the conversions run in map() rather than per value in Python.
        columns: list[Iterable[Any]] = []
        for index, name, processor in compiled.slots:
            if index is None:
                value = (shared or {})[name]
                columns.append(repeat(processor(value) if processor else value, len(rows)))
            else:
                values = map(itemgetter(index), rows)
                columns.append(map(processor, values) if processor else values)
        if compiled.positional:
            conn.exec_driver_sql(compiled.sql, list(zip(*columns, strict=True)))
        else:
            names = [name for _, name, _ in compiled.slots]
            conn.exec_driver_sql(
                compiled.sql,
                [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)],
            )
