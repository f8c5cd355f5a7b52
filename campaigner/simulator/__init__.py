"""A fake of the three voice providers, for tests, the demo and the benchmarks.

`campaigner simulate` serves it; tests run it in-process with `running_simulator` (a background
thread) or `serving_simulator` (a task on their event loop). It speaks each vendor's wire format
on the vendor's own paths, plays each call out as that vendor's webhooks, injects faults on
demand, and keeps a `Ledger` of every call it was asked to place.
"""

from .behaviour import (
    Behaviour,
    Mix,
    digit_mix,
    outcome_mix,
    parse_key,
    parse_outcome,
    parse_script,
)
from .config import Credentials, SimulatorConfig, Timing, WebhookPolicy
from .faults import FaultInjector, FaultPlan
from .ledger import (
    DialRecord,
    DialResult,
    HangupKind,
    HangupRecord,
    Ledger,
    WebhookRecord,
    max_in_any_second,
)
from .server import DEFAULT_PORT, Simulator, running_simulator, serve_forever, serving_simulator
from .spans import Span

__all__ = [
    "DEFAULT_PORT",
    "Behaviour",
    "Credentials",
    "DialRecord",
    "DialResult",
    "FaultInjector",
    "FaultPlan",
    "HangupKind",
    "HangupRecord",
    "Ledger",
    "Mix",
    "Simulator",
    "SimulatorConfig",
    "Span",
    "Timing",
    "WebhookPolicy",
    "WebhookRecord",
    "digit_mix",
    "max_in_any_second",
    "outcome_mix",
    "parse_key",
    "parse_outcome",
    "parse_script",
    "running_simulator",
    "serve_forever",
    "serving_simulator",
]
