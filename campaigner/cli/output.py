"""How commands print: aligned plain-text tables for people, JSON for scripts.

Styling (a warning in yellow) goes through click, which strips it when stdout is not a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from ..windows import ALL_DAYS, CallingWindow

F = TypeVar("F", bound=Callable[..., Any])

Cell = str | int | None
_DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def json_option(function: F) -> F:
    """The `--json` option of the commands that show things."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON instead of a table, for scripts."
    )(function)


def echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=_json_default))


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], indent: str = "") -> str:
    """Columns padded to their widest cell; numbers aligned right, text left, None as `-`."""
    cells = [[_text(cell) for cell in row] for row in rows]
    widths = [
        max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)
    ]
    numeric = [
        bool(rows) and all(isinstance(row[i], int) for row in rows) for i in range(len(headers))
    ]
    lines = []
    for row in [list(headers), *cells]:
        padded = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, numeric, strict=True)
        ]
        lines.append(indent + "  ".join(padded).rstrip())
    return "\n".join(lines)


def when(moment: datetime | None) -> str:
    """A stored (UTC) time for people: `2026-11-21 14:03 UTC`."""
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def window_words(window: CallingWindow) -> str:
    """`09:00 to 20:00, Monday to Friday, in each contact's local time`."""
    end = f"{window.end:%H:%M}" + (" the next day" if window.spans_midnight else "")
    if window.days == ALL_DAYS:
        days = "every day"
    else:
        days = ("opening " if window.spans_midnight else "") + _days_words(window.days)
    return f"{window.start:%H:%M} to {end}, {days}, in each contact's local time"


def _days_words(days: frozenset[int]) -> str:
    """`Monday to Friday`, `Monday, Wednesday and Friday`."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    words: list[str] = []
    for run in runs:
        if len(run) >= 3:
            words.append(f"{_DAY_WORDS[run[0]]} to {_DAY_WORDS[run[-1]]}")
        else:
            words.extend(_DAY_WORDS[day] for day in run)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _text(cell: Cell) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, int):
        return f"{cell:,}"
    return cell


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
