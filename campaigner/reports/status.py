"""Where a campaign stands now: what `campaigner status` prints and the receiver's status page
shows. Read in one short read transaction, so it works while `campaigner run` dials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ..campaigns import Campaign
from ..errors import ValidationError
from ..model import CampaignStatus
from ..store.campaigns import get_campaign, list_campaigns
from ..windows import zone_named
from .definitions import Summary, ratio
from .queries import calls_since, campaign_summary, earliest_retry, iso, pending_zones

# The dialling rate is the calls placed over this last stretch of time.
RATE_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class Status:
    campaign: Campaign
    summary: Summary
    now: datetime
    calls_last_window: int  # calls placed in the RATE_WINDOW before `now`
    next_opening: datetime | None  # the earliest calling window opening for a pending contact
    open_now: bool  # some pending contact's window is open
    next_retry: datetime | None  # the first retry that is not due yet

    @property
    def rate(self) -> float:
        """Calls per second over the last minute."""
        return self.calls_last_window / RATE_WINDOW.total_seconds()

    @property
    def time_to_finish(self) -> timedelta | None:
        """How long the contacts not final yet need at the current pace, one call each (a lower
        bound: retries, closed windows and pauses add to it). None when nothing is being dialled
        but work remains; zero when nothing remains."""
        if not self.summary.remaining:
            return timedelta(0)
        seconds = ratio(self.summary.remaining, self.calls_last_window)
        if seconds is None or self.campaign.status is not CampaignStatus.RUNNING:
            return None
        return timedelta(seconds=round(seconds * RATE_WINDOW.total_seconds()))

    def document(self) -> dict[str, Any]:
        finish = self.time_to_finish
        return {
            "campaign": self.campaign.name,
            "status": self.campaign.status.value,
            "status_reason": self.campaign.status_reason,
            "as_of": iso(self.now),
            **self.summary.document(),
            "calls_per_second": round(self.rate, 2),
            "time_to_finish_s": None if finish is None else int(finish.total_seconds()),
            "window_open_now": self.open_now,
            "next_window_opening": iso(self.next_opening),
            "next_retry_due": iso(self.next_retry),
        }


def campaign_status(connection: Connection, name: str, now: datetime) -> Status:
    return status_of(connection, get_campaign(connection, name), now)


def all_statuses(connection: Connection, now: datetime) -> list[Status]:
    return [status_of(connection, campaign, now) for campaign in list_campaigns(connection)]


def status_of(connection: Connection, campaign: Campaign, now: datetime) -> Status:
    summary = campaign_summary(connection, campaign.id)
    window = campaign.settings.window
    openings: list[datetime] = []
    open_now = False
    for zone_name in pending_zones(connection, campaign.id):
        try:
            zone = zone_named(zone_name)
        except ValidationError:
            continue
        if window.is_open(now, zone):
            open_now = True
        openings.append(window.next_opening(now, zone))
    return Status(
        campaign=campaign,
        summary=summary,
        now=now,
        calls_last_window=calls_since(connection, campaign.id, now - RATE_WINDOW),
        next_opening=min(openings, default=None),
        open_now=open_now,
        next_retry=earliest_retry(connection, campaign.id, now),
    )
