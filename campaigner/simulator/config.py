"""What a simulator is told: credentials, caller IDs, timings, webhook policy, behaviour, faults.

Everything is a frozen dataclass with defaults fit for tests (no delays, no faults); the CLI and
the benchmarks override what they need. Durations are seconds; a `Span` is a fixed duration or a
range drawn from uniformly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ValidationError
from .behaviour import Behaviour
from .faults import FaultPlan
from .spans import NO_DELAY, Span

# Fixed demo credentials, documented in `campaigner simulate --help`, so a demo needs no setup.
DEMO_ENABLEX_APP_ID = "sim-enablex-app"
DEMO_ENABLEX_APP_KEY = "sim-enablex-key"
DEMO_FRACTEL_TOKEN = "sim-fractel-token"
DEMO_WEBEX_SERVICE_KEY = "sim-webex-key"
# US numbers, because Fractel FoneNumbers are US numbers.
DEMO_CALLER_IDS = ("+13215550100", "+13215550101")
DEMO_ACCOUNT_CODE = "SIM0001"


@dataclass(frozen=True)
class Credentials:
    """What each fake vendor accepts: EnableX Basic APP_ID:APP_KEY, Fractel token, Webex key."""

    enablex_app_id: str = DEMO_ENABLEX_APP_ID
    enablex_app_key: str = field(default=DEMO_ENABLEX_APP_KEY, repr=False)
    fractel_token: str = field(default=DEMO_FRACTEL_TOKEN, repr=False)
    webex_service_key: str = field(default=DEMO_WEBEX_SERVICE_KEY, repr=False)


@dataclass(frozen=True)
class Timing:
    """How a call plays out once the dial request is answered.

    `ring_delay` runs from the answer to the moment the callee answers (or the call ends busy,
    unanswered, failed); `play_duration` from the answer to the end of the message; an EnableX call
    then stays up until the client hangs up or `hangup_timeout` passes.
    """

    answer_latency: Span = NO_DELAY
    ring_delay: Span = NO_DELAY
    play_duration: Span = NO_DELAY
    hangup_timeout: float = 30.0


@dataclass(frozen=True)
class WebhookPolicy:
    """How webhooks are delivered: retries like Webex Connect (3 more tries, 60 s apart, 10 s
    timeout); HTTP Basic credentials for EnableX and Webex callbacks if the receiver wants them.

    Up to `connections_per_host` webhooks in flight to one receiver, each call's in order: a
    provider delivering thousands a second over the internet's 20-100 ms round trips has hundreds
    in flight. At 64, with a call's four webhooks sent one after another, no more than 16 calls
    could end per round trip, and the benchmarks measured that limit instead of the dialer's
    (benchmarks/RESULTS.md)."""

    retries: int = 3
    retry_gap: float = 60.0
    timeout: float = 10.0
    connections_per_host: int = 256
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        return (self.user, self.password or "") if self.user else None


@dataclass(frozen=True)
class SimulatorConfig:
    credentials: Credentials = Credentials()
    caller_ids: frozenset[str] = frozenset(DEMO_CALLER_IDS)  # E.164, provisioned on every account
    account_code: str = DEMO_ACCOUNT_CODE  # Fractel's account_code in call events
    timing: Timing = Timing()
    webhooks: WebhookPolicy = WebhookPolicy()
    behaviour: Behaviour = field(default_factory=Behaviour)
    faults: FaultPlan = field(default_factory=FaultPlan)
    clock: Callable[[], float] = time.time  # receipt times and idempotency windows; tests inject

    def __post_init__(self) -> None:
        for number in self.caller_ids:
            if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
                raise ValidationError(f"caller ID {number!r} must be E.164, like +13215550100")
