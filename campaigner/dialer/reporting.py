"""What a run prints: a live display on a terminal, a line a minute without one, or JSON lines.

Three reporters with one interface. Notes (a refusal, an ambiguous request, a pause) are printed as
they happen; progress as often as the reporter asks for it (`interval`); the summary at the end.
Nothing printed carries a full phone number or a secret: callers pass masked numbers only.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from ..durations import format_duration
from ..model import ContactState
from .progress import Snapshot
from .stopping import ExitCode, Stop


@dataclass(frozen=True)
class RunResult:
    """How a run ended."""

    campaign: str
    stop: Stop
    message: str  # what happened, in words
    dialled: int  # dial requests this run sent
    elapsed: float  # seconds
    contacts: Mapping[ContactState, int] = field(default_factory=dict)  # by state, at the end
    next_due: datetime | None = None  # when work left is due (stops with work left)

    @property
    def exit_code(self) -> ExitCode:
        return self.stop.exit_code

    def lines(self) -> list[str]:
        rate = self.dialled / self.elapsed if self.elapsed > 0 else 0.0
        lines = [
            f"campaign {self.campaign}: {self.message}",
            f"  dialled {self.dialled:,} calls in {format_duration(round(self.elapsed))} "
            f"({rate:.1f} calls/s)",
        ]
        states = ", ".join(
            f"{state.value.replace('_', ' ')} {self.contacts[state]:,}"
            for state in ContactState
            if self.contacts.get(state)
        )
        lines.append(f"  contacts: {states or 'none'}")
        if self.next_due is not None:
            lines.append(
                f"  next contact due {self.next_due.astimezone(UTC):%Y-%m-%d %H:%M} UTC: "
                f"run `campaigner run {self.campaign}` again then (exit {self.exit_code.value})"
            )
        return lines

    def document(self) -> dict[str, Any]:
        return {
            "action": "finished",
            "campaign": self.campaign,
            "stop": self.stop.value,
            "exit_code": self.exit_code.value,
            "message": self.message,
            "dialled": self.dialled,
            "elapsed": round(self.elapsed, 1),
            "contacts": {state.value: count for state, count in self.contacts.items() if count},
            "next_due": self.next_due.isoformat() if self.next_due else None,
        }


class Reporter(ABC):
    interval: float  # seconds between progress reports

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    @abstractmethod
    def note(self, action: str, message: str, **fields: Any) -> None:
        """Something worth saying now: `action` names it for machines, `message` for people."""

    @abstractmethod
    def progress(self, snapshot: Snapshot) -> None: ...

    def finished(self, result: RunResult) -> None:
        for line in result.lines():
            self._write(line)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


class LineReporter(Reporter):
    """Without a terminal: timestamped lines, progress once a minute."""

    interval = 60.0

    def note(self, action: str, message: str, **fields: Any) -> None:
        self._write(f"{_stamp()} {message}")

    def progress(self, snapshot: Snapshot) -> None:
        self._write(f"{_stamp()} {snapshot.line()}")


class JsonReporter(Reporter):
    """`--log-format json`: one JSON object per line, progress once a minute."""

    interval = 60.0

    def note(self, action: str, message: str, **fields: Any) -> None:
        self._json({"action": action, "message": message, **fields})

    def progress(self, snapshot: Snapshot) -> None:
        self._json(snapshot.document())

    def finished(self, result: RunResult) -> None:
        self._json(result.document())

    def _json(self, document: dict[str, Any]) -> None:
        document = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **document}
        self._write(json.dumps(document, ensure_ascii=False, default=str))


class TerminalReporter(Reporter):
    """On a terminal: a block of a few lines redrawn in place every second; notes above it."""

    interval = 1.0

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._drawn = 0  # lines of the block on screen

    def note(self, action: str, message: str, **fields: Any) -> None:
        self._erase()
        self._write(f"{_stamp()} {message}")

    def progress(self, snapshot: Snapshot) -> None:
        self._erase()
        block = snapshot.block()
        self.stream.write("\n".join(block) + "\n")
        self.stream.flush()
        self._drawn = len(block)

    def finished(self, result: RunResult) -> None:
        self._erase()
        super().finished(result)

    def _erase(self) -> None:
        if self._drawn:
            # Up to the first line of the block, then clear to the end of the screen.
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0


def reporter_for(stream: TextIO, log_format: str, interval: float | None = None) -> Reporter:
    """JSON lines when asked; else the live display on a terminal, lines elsewhere. `interval`:
    seconds between progress lines (default: a minute); the live display redraws every second."""
    reporter: Reporter
    if log_format == "json":
        reporter = JsonReporter(stream)
    elif stream.isatty():
        return TerminalReporter(stream)
    else:
        reporter = LineReporter(stream)
    if interval is not None:
        reporter.interval = interval
    return reporter


def _stamp() -> str:
    return f"{datetime.now(UTC):%H:%M:%S}"
