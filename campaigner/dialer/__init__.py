"""The dialer: `campaigner run`'s engine, which dials a campaign's due contacts.

    result = await run_campaign(database, "reminders", settings, reporter=reporter_for(sys.stdout,
                                "text"), options=RunOptions(), receiver=ReceiverOptions())
    sys.exit(result.exit_code)

`session` makes the campaign ready and serves the webhook receiver beside the dialer; `engine` is
the loop (claim, pace, send, record) and `sending` what each answer leads to. The pure parts
(`backoff`, `breaker`, `pacing`, `stopping`, `progress`) are tested as tables.
"""

from .clock import Clock, ShiftedClock, SystemClock
from .engine import Dialer, RunOptions
from .http import Timeouts
from .reporting import Reporter, RunResult, reporter_for
from .session import ReceiverOptions, run_campaign
from .stopping import ExitCode, Stop

__all__ = [
    "Clock",
    "Dialer",
    "ExitCode",
    "ReceiverOptions",
    "Reporter",
    "RunOptions",
    "RunResult",
    "ShiftedClock",
    "Stop",
    "SystemClock",
    "Timeouts",
    "reporter_for",
    "run_campaign",
]
