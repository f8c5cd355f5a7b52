"""Small SVG bar charts, drawn server-side for the HTML report and the status page.

Two shapes cover every chart campaigner shows: horizontal bars (a breakdown by category) and
vertical, optionally stacked, bars (a quantity along an axis). Each chart is a complete `<svg>`
with a `<title>`, fixed `width`/`height` (scaled down by CSS on narrow screens) and every text
escaped. No script, no external resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 720
_LABEL_WIDTH = 250
_LABEL_CHARACTERS = 34
_VALUE_WIDTH = 110
_BAR_HEIGHT = 20
_GAP = 6
_TOP = 8

# One colour per outcome or state, the same in every chart (and distinguishable when printed in
# grey by their order and labels).
COLOURS: Mapping[str, str] = {
    "delivered": "#2e7d32",
    "busy": "#ef6c00",
    "no_answer": "#f9a825",
    "failed": "#c62828",
    "invalid_number": "#6a1b9a",
    "rejected_request": "#4e342e",
    "suppressed": "#616161",
    "cancelled": "#9e9e9e",
    "pending": "#1565c0",
    "in_progress": "#42a5f5",
    "in flight": "#42a5f5",
    "rejected": "#ad1457",
    "duplicate": "#8d6e63",
}
DEFAULT_COLOUR = "#455a64"


def colour(name: str) -> str:
    return COLOURS.get(name, DEFAULT_COLOUR)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown beside the bar
    colour: str = DEFAULT_COLOUR


def horizontal_bars(title: str, bars: Sequence[Bar], chart_id: str) -> str:
    """One bar per category, longest = full width, the value written at the end of each."""
    if not bars:
        return _empty(title, chart_id)
    height = _TOP * 2 + len(bars) * (_BAR_HEIGHT + _GAP)
    span = WIDTH - _LABEL_WIDTH - _VALUE_WIDTH
    largest = max(bar.value for bar in bars) or 1
    parts = [_open(title, chart_id, height)]
    for i, bar in enumerate(bars):
        y = _TOP + i * (_BAR_HEIGHT + _GAP)
        length = max(bar.value / largest * span, 1 if bar.value else 0)
        middle = y + _BAR_HEIGHT / 2
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{middle:.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(_shortened(bar.label))}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{_BAR_HEIGHT}" '
            f'fill="{escape(bar.colour)}"><title>{escape(bar.label)}: {escape(bar.text)}</title>'
            f"</rect>"
            f'<text x="{_LABEL_WIDTH + length + 6:.1f}" y="{middle:.1f}" '
            f'dominant-baseline="middle">{escape(bar.text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    colour: str = DEFAULT_COLOUR


def vertical_bars(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    chart_id: str,
    *,
    axis_text: Callable[[float], str] = lambda value: f"{value:,.0f}",
    top: float | None = None,
    every: int = 1,
) -> str:
    """Stacked columns, one per label; `series` stack bottom to top, with a legend.

    `top` fixes the scale (1.0 for rates); `every` writes only every n-th label under the axis.
    """
    if not labels or not series:
        return _empty(title, chart_id)
    left, bottom, plot_height = 56, 40, 200
    legend_rows = (len(series) + 3) // 4 if len(series) > 1 else 0
    height = _TOP + plot_height + bottom + legend_rows * 20
    plot_width = WIDTH - left - 10
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    scale_top = top if top is not None else (max(totals) or 1)
    column = plot_width / len(labels)
    bar_width = max(column * 0.8, 1)
    parts = [_open(title, chart_id, height)]
    for step in range(5):
        value = scale_top * step / 4
        y = _TOP + plot_height - plot_height * step / 4
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle" '
            f'class="axis">{escape(axis_text(value))}</text>'
        )
    for i, label in enumerate(labels):
        x = left + i * column + (column - bar_width) / 2
        base = float(_TOP + plot_height)
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = value / scale_top * plot_height
            base -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_width:.1f}" height="{h:.1f}" '
                f'fill="{escape(s.colour)}"><title>{escape(label)}: {escape(s.name)} '
                f"{escape(axis_text(value))}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{_TOP + plot_height + 16}" '
                f'text-anchor="middle" class="axis">{escape(label)}</text>'
            )
    if legend_rows:
        for i, s in enumerate(series):
            x = left + (i % 4) * 165
            y = _TOP + plot_height + bottom + (i // 4) * 20 - 10
            parts.append(
                f'<rect x="{x}" y="{y - 6}" width="12" height="12" fill="{escape(s.colour)}"/>'
                f'<text x="{x + 18}" y="{y}" dominant-baseline="middle">{escape(s.name)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _shortened(label: str) -> str:
    """A label that fits beside its bar; the whole of it is in the bar's tooltip."""
    if len(label) <= _LABEL_CHARACTERS:
        return label
    return label[: _LABEL_CHARACTERS - 1] + "…"


def _open(title: str, chart_id: str, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
    )


def _empty(title: str, chart_id: str) -> str:
    return (
        _open(title, chart_id, 40)
        + '<text x="8" y="24" class="axis">nothing to show yet</text></svg>'
    )
