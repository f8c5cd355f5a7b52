"""HTML pages: the report (`campaigner report --format html`) and the receiver's status pages.

Each page is one self-contained file: inline CSS, inline SVG charts (`svg`), no script, no
external resource, readable on a laptop and printed to PDF. Every value that reaches the page
is escaped: CSV fields and provider reasons are written by strangers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import Connection

from ..campaigns import Campaign
from ..durations import format_duration
from ..model import Outcome
from .definitions import STATE_ORDER, Summary, decimal, percent
from .queries import (
    IN_FLIGHT,
    attempts_histogram,
    campaign_summary,
    local_hours,
    not_called_reasons,
    reasons,
    timeline,
)
from .status import Status
from .svg import Bar, Series, colour, horizontal_bars, vertical_bars

STYLE = """
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; }
body { margin: 0 auto; padding: 1.5rem; max-width: 64rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #ddd; }
p.meta { color: #555; margin: 0; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr));
  gap: .75rem; margin-top: 1.25rem; }
.tile { border: 1px solid #ddd; border-radius: 6px; padding: .6rem .8rem; }
.tile .value { font-size: 1.5rem; font-weight: 600; display: block; }
.tile .label { color: #555; font-size: .85rem; }
svg.chart { width: 100%; max-width: 52rem; height: auto; font-size: 12px; }
svg.chart text { fill: #1b1b1b; }
svg.chart .axis { fill: #555; font-size: 11px; }
svg.chart .grid { stroke: #e5e5e5; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
dl.definitions dt { font-weight: 600; }
dl.definitions dd { margin: 0 0 .5rem 1rem; color: #333; }
footer { margin-top: 2.5rem; color: #555; font-size: .85rem; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  section, figure, table, .tiles { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
@page { margin: 1.5cm; }
"""

DEFINITIONS = (
    (
        "contacts",
        "every contact of the campaign, in any state; rejected and duplicate CSV rows "
        "are not contacts and are counted apart",
    ),
    ("dialled", "contacts called at least once"),
    ("delivery rate", "delivered contacts / dialled contacts"),
    ("reach", "delivered contacts / all contacts"),
    (
        "attempts per delivered contact",
        "calls placed / delivered contacts: what one delivery "
        "cost in calls, failed calls to contacts never reached included",
    ),
    (
        "delivery rate by local hour",
        "delivered calls / calls placed in that hour of the callee's own day (calls, not contacts)",
    ),
)


def page(title: str, body: str, *, refresh: int | None = None) -> str:
    refresh_tag = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh_tag}<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def tile(metric: str, value: str, label: str) -> str:
    """A summary figure; `data-metric` names it for scripts and tests."""
    return (
        f'<div class="tile" data-metric="{escape(metric)}"><span class="value">{escape(value)}'
        f'</span><span class="label">{escape(label)}</span></div>'
    )


def summary_tiles(summary: Summary) -> str:
    tiles = [
        tile("contacts", f"{summary.contacts:,}", "contacts"),
        tile("dialled", f"{summary.dialled:,}", "dialled at least once"),
        tile("delivered", f"{summary.delivered:,}", "delivered"),
        tile("delivery_rate", percent(summary.delivery_rate), "delivery rate"),
        tile("reach_rate", percent(summary.reach_rate), "reach (of all contacts)"),
        tile("attempts", f"{summary.attempts:,}", "calls placed"),
        tile(
            "attempts_per_delivered",
            decimal(summary.attempts_per_delivered),
            "calls per delivered contact",
        ),
        tile("remaining", f"{summary.remaining:,}", "not final yet"),
    ]
    return '<div class="tiles">' + "".join(tiles) + "</div>"


def outcome_chart(summary: Summary) -> str:
    bars = [
        Bar(state.value, count, f"{count:,}", colour(state.value))
        for state in STATE_ORDER
        if (count := summary.by_state.get(state, 0))
    ]
    figure = horizontal_bars("Contacts by outcome", bars, "chart-outcomes")
    rows = [
        (state.value, summary.by_state.get(state, 0))
        for state in STATE_ORDER
        if summary.by_state.get(state, 0)
    ]
    rows.append(("total", summary.contacts))
    return figure + _table(["outcome", "contacts"], rows, numeric={1}, table_id="outcomes")


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: set[int] | frozenset[int] = frozenset(),
    table_id: str | None = None,
) -> str:
    ident = f' id="{escape(table_id)}"' if table_id else ""
    head = "".join(
        f"<th{' class=n' if i in numeric else ''}>{escape(h)}</th>" for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{value:,}</td>'
            if isinstance(value, int) and i in numeric
            else f"<td>{escape(str(value))}</td>"
            for i, value in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _stamp(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def report_page(connection: Connection, campaign: Campaign, now: datetime) -> str:
    """The whole HTML report of `campaign`, from aggregate queries only."""
    summary = campaign_summary(connection, campaign.id)
    name = campaign.name
    sections = [
        f"<header><h1>{escape(name)}: delivery report</h1>"
        f'<p class="meta">{escape(campaign.settings.provider.value)} · status '
        f"{escape(campaign.status.value)} · started {escape(_stamp(campaign.started_at))} · "
        f"report made {escape(_stamp(now))}</p></header>",
        summary_tiles(summary),
        "<section><h2>Outcomes</h2>" + outcome_chart(summary) + "</section>",
        "<section><h2>Calls and outcomes over time</h2>"
        + _timeline_chart(connection, campaign)
        + "</section>",
        "<section><h2>Delivery rate by the contact's local hour</h2>"
        + _hours_chart(connection, campaign)
        + "</section>",
        "<section><h2>Calls per contact</h2>"
        + _histogram_chart(connection, campaign)
        + "</section>",
    ]
    if campaign.settings.keys.collects_keys or summary.responses:
        sections.append("<section><h2>Responses</h2>" + _responses_chart(summary) + "</section>")
    found = reasons(connection, campaign.id)
    sections.append("<section><h2>Top failure reasons</h2>" + _failures_chart(found) + "</section>")
    sections.append(
        "<section><h2>Calls by provider reason</h2>"
        + _table(
            ["provider reason", "outcome", "calls"],
            [(r.reason, r.outcome, r.calls) for r in found],
            numeric={2},
            table_id="reasons",
        )
        + "</section>"
    )
    skipped = not_called_reasons(connection, campaign.id)
    sections.append(
        "<section><h2>Never dialled: suppressed, rejected and duplicate rows</h2>"
        + (
            _table(["state", "reason", "rows"], skipped, numeric={2}, table_id="not-called")
            if skipped
            else "<p>None.</p>"
        )
        + "</section>"
    )
    sections.append(_definitions())
    return page(f"{name}: delivery report", "".join(sections))


def _definitions() -> str:
    items = "".join(f"<dt>{escape(t)}</dt><dd>{escape(d)}</dd>" for t, d in DEFINITIONS)
    return f'<footer><h2>Definitions</h2><dl class="definitions">{items}</dl></footer>'


def _timeline_chart(connection: Connection, campaign: Campaign) -> str:
    found = timeline(connection, campaign.id)
    if found.start is None:
        return vertical_bars("Calls over time", [], [], "chart-timeline")
    last = max(found.buckets)
    outcomes = [o.value for o in Outcome] + [IN_FLIGHT]
    present = [o for o in outcomes if any(b.get(o) for b in found.buckets.values())]
    labels = []
    if found.step < timedelta(minutes=1):
        fmt = "%H:%M:%S"
    else:
        fmt = "%H:%M" if found.step < timedelta(days=1) else "%m-%d"
    for index in range(last + 1):
        labels.append(f"{found.start + found.step * index:{fmt}}")
    series = [
        Series(
            o,
            [found.buckets[i][o] if i in found.buckets else 0 for i in range(last + 1)],
            colour(o),
        )
        for o in present
    ]
    title = f"Calls placed per {format_duration(int(found.step.total_seconds()))}, by outcome (UTC)"
    return vertical_bars(title, labels, series, "chart-timeline", every=max(1, len(labels) // 12))


def _hours_chart(connection: Connection, campaign: Campaign) -> str:
    hours = local_hours(connection, campaign.id)
    if not any(h.calls for h in hours):
        return vertical_bars("Delivery rate by local hour", [], [], "chart-hours")
    chart = vertical_bars(
        "Delivery rate by the contact's local hour (delivered calls / calls placed)",
        [f"{h.hour:02d}" for h in hours],
        [Series("delivery rate", [h.rate or 0.0 for h in hours], colour("delivered"))],
        "chart-hours",
        axis_text=lambda value: f"{value * 100:.0f}%",
        top=1.0,
        every=2,
    )
    rows = [(f"{h.hour:02d}:00", h.calls, h.delivered, percent(h.rate)) for h in hours if h.calls]
    return chart + _table(
        ["local hour", "calls", "delivered", "rate"], rows, numeric={1, 2}, table_id="local-hours"
    )


def _histogram_chart(connection: Connection, campaign: Campaign) -> str:
    counts = attempts_histogram(connection, campaign.id)
    if not counts:
        return vertical_bars("Calls per contact", [], [], "chart-attempts")
    most = max(counts)
    return vertical_bars(
        "Contacts by the number of calls they were given",
        [str(n) for n in range(most + 1)],
        [Series("contacts", [counts.get(n, 0) for n in range(most + 1)], colour("pending"))],
        "chart-attempts",
    )


def _responses_chart(summary: Summary) -> str:
    bars = [Bar(label, count, f"{count:,}") for label, count in summary.responses.items()]
    answered = sum(summary.responses.values())
    silent = summary.delivered - answered
    if silent > 0:
        bars.append(Bar("no key pressed", silent, f"{silent:,}", colour("cancelled")))
    return horizontal_bars("Delivered contacts by the key they pressed", bars, "chart-responses")


def _failures_chart(found: Sequence[Any]) -> str:
    failing = [r for r in found if r.outcome not in (Outcome.DELIVERED.value, IN_FLIGHT)][:10]
    bars = [
        Bar(f"{r.reason} ({r.outcome})", r.calls, f"{r.calls:,}", colour(r.outcome))
        for r in failing
    ]
    return horizontal_bars("Undelivered calls by the provider's reason", bars, "chart-failures")


# --- Status pages --------------------------------------------------------------------------------


def status_tiles(status: Status) -> str:
    finish = status.time_to_finish
    if finish is None:
        finish_text = "-"
    else:
        finish_text = format_duration(int(finish.total_seconds())) if finish else "done"
    if status.open_now:
        window = "open now"
    else:
        window = "nobody pending" if status.next_opening is None else _stamp(status.next_opening)
    extra = [
        tile("calls_per_second", f"{status.rate:.2f}", "calls per second (last minute)"),
        tile("in_flight", f"{status.summary.in_flight:,}", "calls in flight"),
        tile("time_to_finish", finish_text, "to finish at this pace (at least)"),
        tile("next_window_opening", window, "calling window"),
    ]
    return summary_tiles(status.summary) + '<div class="tiles">' + "".join(extra) + "</div>"


def status_page(status: Status, *, refresh: int, home: str) -> str:
    campaign = status.campaign
    reason = f" ({campaign.status_reason})" if campaign.status_reason else ""
    body = (
        f'<p class="meta"><a href="{escape(home)}">all campaigns</a></p>'
        f"<header><h1>{escape(campaign.name)}</h1>"
        f'<p class="meta">status {escape(campaign.status.value)}{escape(reason)} · as of '
        f"{escape(_stamp(status.now))} · refreshes every {refresh} s</p></header>"
        + status_tiles(status)
        + "<section><h2>Outcomes</h2>"
        + outcome_chart(status.summary)
        + "</section>"
    )
    return page(f"{campaign.name}: status", body, refresh=refresh)


def index_page(statuses: Sequence[Status], *, refresh: int, link: Any) -> str:
    rows = []
    for status in statuses:
        summary = status.summary
        href = escape(link(status.campaign.name))
        rows.append(
            f'<tr><td><a href="{href}">{escape(status.campaign.name)}</a></td>'
            f"<td>{escape(status.campaign.status.value)}</td>"
            f'<td class="n">{summary.contacts:,}</td><td class="n">{summary.delivered:,}</td>'
            f'<td class="n">{escape(percent(summary.delivery_rate))}</td>'
            f'<td class="n">{summary.remaining:,}</td><td class="n">{status.rate:.2f}</td></tr>'
        )
    headers = "".join(
        f"<th{' class=n' if i > 1 else ''}>{h}</th>"
        for i, h in enumerate(
            ["campaign", "status", "contacts", "delivered", "delivery rate", "not final", "calls/s"]
        )
    )
    table = (
        f'<table id="campaigns"><thead><tr>{headers}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
        if rows
        else "<p>No campaigns yet.</p>"
    )
    body = (
        "<header><h1>campaigner</h1>"
        f'<p class="meta">campaigns · refreshes every {refresh} s</p></header>' + table
    )
    return page("campaigner: campaigns", body, refresh=refresh)
