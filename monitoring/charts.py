"""Small charts for the staff dashboard, drawn on the server as inline SVG: no script, no
stylesheet and no font from anywhere else, so the page works offline and under a strict
Content-Security-Policy. Every text in a chart is escaped."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 480
HEIGHT = 120
PAD_LEFT = 44
PAD_BOTTOM = 18
PAD_TOP = 8
OK, WARN, BAD = "#2e7d32", "#ef6c00", "#c62828"


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}"


def _frame(title: str, top: float, unit: str, body: str, *, points: int) -> SafeString:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    axis = (
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH}" y2="{PAD_TOP + plot_h}" '
        'stroke="#999" stroke-width="1"/>'
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + plot_h}" '
        'stroke="#999" stroke-width="1"/>'
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 8}" text-anchor="end" font-size="10">'
        f"{escape(_number(top))}{escape(unit)}</text>"
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + plot_h}" text-anchor="end" font-size="10">0</text>'
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 4}" font-size="10">-{points}m</text>'
        f'<text x="{WIDTH}" y="{HEIGHT - 4}" text-anchor="end" font-size="10">now</text>'
    )
    return format_html(
        '<svg class="breeze-chart" role="img" aria-label="{title}" viewBox="0 0 {w} {h}" '
        'width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
        "{axis}{body}</svg>",
        title=title,
        w=WIDTH,
        h=HEIGHT,
        axis=mark_safe(axis),  # noqa: S308 - built above from numbers and escaped text
        body=mark_safe(body),  # noqa: S308 - built by the callers from numbers only
    )


def bar_chart(
    title: str, layers: Sequence[tuple[Sequence[float], str]], *, unit: str = ""
) -> SafeString:
    """Stacked bars, one per point (oldest first): ``layers`` is ``[(values, colour), ...]``."""
    points = max((len(values) for values, _ in layers), default=0)
    totals = [sum(values[i] for values, _ in layers if i < len(values)) for i in range(points)]
    top = max([*totals, 1.0])
    plot_w = WIDTH - PAD_LEFT
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(points, 1)
    bars = []
    for index in range(points):
        base = 0.0
        for values, colour in layers:
            value = values[index] if index < len(values) else 0
            if value <= 0:
                continue
            height = plot_h * value / top
            y = PAD_TOP + plot_h - plot_h * (base + value) / top
            x = PAD_LEFT + index * step + 0.5
            bars.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 0.5):.1f}" '
                f'height="{height:.1f}" fill="{colour}"/>'
            )
            base += value
    return _frame(title, top, unit, "".join(bars), points=points)


def line_chart(
    title: str, lines: Sequence[tuple[Sequence[float | None], str]], *, unit: str = ""
) -> SafeString:
    """Lines, one point per minute (oldest first); None leaves a gap."""
    points = max((len(values) for values, _ in lines), default=0)
    top = max([v for values, _ in lines for v in values if v is not None] + [1.0])
    plot_w = WIDTH - PAD_LEFT
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(points - 1, 1)
    paths = []
    for values, colour in lines:
        segments, current = [], []
        for index, value in enumerate(values):
            if value is None:
                if current:
                    segments.append(current)
                current = []
                continue
            x = PAD_LEFT + index * step
            y = PAD_TOP + plot_h - plot_h * value / top
            current.append(f"{x:.1f},{y:.1f}")
        if current:
            segments.append(current)
        for segment in segments:
            if len(segment) == 1:
                x, y = segment[0].split(",")
                paths.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{colour}"/>')
            else:
                paths.append(
                    f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" '
                    'stroke-width="1.5"/>'
                )
    return _frame(title, top, unit, "".join(paths), points=points)


def gauge(title: str, used: float, limit: float) -> SafeString:
    """A horizontal gauge of ``used`` out of ``limit``: green, amber past 60%, red past 80%."""
    fraction = min(1.0, used / limit) if limit else 0.0
    colour = OK if fraction < 0.6 else WARN if fraction < 0.8 else BAD
    width, height = 240, 28
    return format_html(
        '<svg class="breeze-gauge" role="img" aria-label="{title}" viewBox="0 0 {w} {h}" '
        'width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
        '<rect x="0" y="4" width="{w}" height="14" rx="3" fill="#e0e0e0"/>'
        '<rect x="0" y="4" width="{fill}" height="14" rx="3" fill="{colour}"/>'
        '<text x="0" y="27" font-size="10">{used} of {limit} ({percent}%)</text></svg>',
        title=title,
        w=width,
        h=height,
        fill=f"{width * fraction:.1f}",
        colour=colour,
        used=_number(used),
        limit=_number(limit),
        percent=f"{fraction * 100:.0f}",
    )
