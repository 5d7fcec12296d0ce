"""Stacked bar charts as inline SVG, rendered on the server.

Plain SVG from Python keeps the page free of a vendored chart library and works without
JavaScript; `viewBox` plus `width="100%"` makes it shrink to a phone's width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

# Colour-blind-friendly (Okabe–Ito), then grey for "others".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")
Series = tuple[str, Sequence[int]]


def nice_max(value: int) -> int:
    """A round axis maximum at or above `value`: 1, 2, 5 × 10ⁿ."""
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 720,
    height: int = 240,
    empty_text: str = "nothing in this period",
) -> SafeString:
    """One bar per label, each series stacked in its colour, with axis, ticks, legend and a
    tooltip (`<title>`) per segment."""
    left, right, top, bottom = 40, 10, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    y_max = nice_max(max(totals, default=0))
    slot = plot_w / max(1, len(labels))
    bar_w = max(1.0, slot * 0.75)
    parts = [
        format_html(
            '<svg class="wz-chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
            'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
            width,
            height,
            title,
        ),
        format_html('<text x="{}" y="16" font-weight="bold" fill="currentColor">{}</text>', left, title),
    ]
    # Counts are whole numbers: a middle gridline only where it falls on one.
    for tick in (0, y_max // 2, y_max) if y_max % 2 == 0 else (0, y_max):
        y = top + plot_h - plot_h * tick / y_max
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#8884" />'
                '<text x="{}" y="{}" text-anchor="end" fill="currentColor">{}</text>',
                left,
                left + plot_w,
                f"{y:.1f}",
                f"{y:.1f}",
                left - 4,
                f"{y + 4:.1f}",
                f"{tick:g}",
            )
        )
    label_every = max(1, math.ceil(len(labels) / 8))  # at most ~8 labels, so they never overlap
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        base: float = top + plot_h
        for index, (name, values) in enumerate(series):
            value = values[i]
            if not value:
                continue
            h = plot_h * value / y_max
            base -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} at {}</title></rect>',
                    f"{x:.1f}",
                    f"{base:.1f}",
                    f"{bar_w:.1f}",
                    f"{h:.1f}",
                    PALETTE[index % len(PALETTE)],
                    name,
                    value,
                    label,
                )
            )
        if i % label_every == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle" fill="currentColor">{}</text>',
                    f"{x + bar_w / 2:.1f}",
                    height - bottom + 14,
                    label,
                )
            )
    if not any(totals):
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle" fill="#888">{}</text>',
                left + plot_w / 2,
                top + plot_h / 2,
                empty_text,
            )
        )
    x = left
    for index, (name, _) in enumerate(series):
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="10" height="10" fill="{}" />'
                '<text x="{}" y="{}" fill="currentColor">{}</text>',
                x,
                height - 12,
                PALETTE[index % len(PALETTE)],
                x + 14,
                height - 3,
                name,
            )
        )
        x += 24 + 7 * len(name)
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(str(part) for part in parts))
