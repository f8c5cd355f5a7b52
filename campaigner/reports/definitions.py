"""What the numbers of a campaign mean: the one place `status`, every report format and the HTML
page take them from, so that they agree to the unit.

The counts come from one aggregate query (`reports.queries.campaign_summary`); everything else is
derived here. The README's "Reports" section states the same definitions in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import ContactState

# The states a contact is counted in, in the order reports show them.
STATE_ORDER: tuple[ContactState, ...] = (
    ContactState.DELIVERED,
    ContactState.BUSY,
    ContactState.NO_ANSWER,
    ContactState.FAILED,
    ContactState.INVALID_NUMBER,
    ContactState.REJECTED_REQUEST,
    ContactState.SUPPRESSED,
    ContactState.CANCELLED,
    ContactState.PENDING,
    ContactState.IN_PROGRESS,
)

# Rows of an import that did not become contacts: they are in the reports, never in the counts.
REJECTED = "rejected"
DUPLICATE = "duplicate"

# Every value a report row's `state` can take (what `--outcome` accepts).
ROW_STATES: tuple[str, ...] = (*(state.value for state in STATE_ORDER), REJECTED, DUPLICATE)


@dataclass(frozen=True)
class Summary:
    """A campaign's counts, and the rates derived from them.

    - `contacts`: every contact of the campaign, in any state (rejected and duplicate CSV rows are
      not contacts; they are counted apart in `rejected_rows` and `duplicate_rows`).
    - `by_state`: contacts in each state; the counts add up to `contacts`. A final contact's state
      is its final outcome.
    - `attempts`: calls placed (one per attempt row; a request never sent is not a call).
    - `dialled`: contacts called at least once.
    - `delivered`: contacts whose message was delivered.
    - `delivery_rate` = delivered / dialled (None before anyone is dialled).
    - `reach_rate` = delivered / contacts (None for a campaign without contacts).
    - `attempts_per_delivered` = attempts / delivered: what one delivery cost in calls, failed
      calls to contacts never reached included (None before the first delivery).
    - `in_flight`: calls placed whose outcome is not known yet.
    - `responses`: contacts by the label of the key they pressed (keypress campaigns).
    """

    contacts: int
    by_state: Mapping[ContactState, int]
    attempts: int
    dialled: int
    in_flight: int
    rejected_rows: int
    duplicate_rows: int
    responses: Mapping[str, int] = field(default_factory=dict)

    @property
    def delivered(self) -> int:
        return self.by_state.get(ContactState.DELIVERED, 0)

    @property
    def delivery_rate(self) -> float | None:
        return ratio(self.delivered, self.dialled)

    @property
    def reach_rate(self) -> float | None:
        return ratio(self.delivered, self.contacts)

    @property
    def attempts_per_delivered(self) -> float | None:
        return ratio(self.attempts, self.delivered)

    @property
    def remaining(self) -> int:
        """Contacts not final yet: pending (due or waiting for a retry) or on a call."""
        return self.by_state.get(ContactState.PENDING, 0) + self.by_state.get(
            ContactState.IN_PROGRESS, 0
        )

    def document(self) -> dict[str, Any]:
        """The summary as JSON: counts as integers, rates rounded as `percent`/`decimal` show."""
        return {
            "contacts": self.contacts,
            "contacts_by_state": {
                state.value: self.by_state.get(state, 0) for state in STATE_ORDER
            },
            "attempts": self.attempts,
            "dialled": self.dialled,
            "delivered": self.delivered,
            "in_flight": self.in_flight,
            "delivery_rate": rounded_rate(self.delivery_rate),
            "reach_rate": rounded_rate(self.reach_rate),
            "attempts_per_delivered": rounded_ratio(self.attempts_per_delivered),
            "rejected_rows": self.rejected_rows,
            "duplicate_rows": self.duplicate_rows,
            "responses": dict(self.responses),
        }


# How the rates are shown: a share to 0.1 % (0.1234 -> "12.3%", JSON 0.123), a ratio to 0.01.
RATE_DIGITS = 3
RATIO_DIGITS = 2


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def rounded_rate(value: float | None) -> float | None:
    return None if value is None else round(value, RATE_DIGITS)


def rounded_ratio(value: float | None) -> float | None:
    return None if value is None else round(value, RATIO_DIGITS)


def percent(value: float | None) -> str:
    """A rate for people: `87.5%`, or `-` when it is not defined yet."""
    rounded = rounded_rate(value)
    return "-" if rounded is None else f"{rounded * 100:.1f}%"


def decimal(value: float | None) -> str:
    """A ratio for people: `1.43`, or `-` when it is not defined yet."""
    rounded = rounded_ratio(value)
    return "-" if rounded is None else f"{rounded:.2f}"


@dataclass(frozen=True)
class HourRate:
    """Calls placed in one hour of the callee's own day, and how many of them were delivered.

    The per-hour delivery rate counts calls, not contacts (a contact called at 9 and at 17 counts
    in both hours): delivered calls / calls placed in that local hour.
    """

    hour: int
    calls: int
    delivered: int

    @property
    def rate(self) -> float | None:
        return ratio(self.delivered, self.calls)
