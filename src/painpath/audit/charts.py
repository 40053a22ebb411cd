"""The audit report's charts: Vega-Lite specifications rendered to inline SVG by ``vl-convert``.

Each chart is a Vega-Lite specification built from the summary (data only: labels come from the
measures, never from ids) and rendered offline to SVG, so the report stays one self-contained file
that opens without a network. The SVG's namespace attributes are dropped (inline SVG in HTML needs
none) so that the page holds no URL at all.
"""

from __future__ import annotations

import re
from typing import Any

import vl_convert

WIDTH = 520
"""Plot width in pixels: two charts fit side by side on a 1366 px screen, one on a narrower one."""
_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
_NAMESPACES = re.compile(r'\s+xmlns(:xlink)?="[^"]*"')
_CONFIG: dict[str, Any] = {
    "font": _FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "labelLimit": 260},
    "background": None,
}


def render(spec: dict[str, Any]) -> str:
    """One Vega-Lite specification as inline SVG markup (no namespaces, no URLs)."""
    # The left padding leaves room for labels that Chromium's fonts set wider than vl-convert's.
    svg = vl_convert.vegalite_to_svg(
        {**spec, "padding": {"left": 28, "right": 8, "top": 4, "bottom": 4}, "config": _CONFIG}
    )
    svg = _NAMESPACES.sub("", svg)
    return svg.replace("<svg ", '<svg role="img" class="chart" ', 1)


def rate_chart(rows: list[dict[str, Any]], title: str) -> str:
    """Rates (0-100%) with their 95% interval and target, one row per measure (``label``, ``rate``, ...)."""
    data = [
        {
            "label": r["label"],
            "rate": 100 * r["rate"],
            "low": 100 * r["ci95"][0],
            "high": 100 * r["ci95"][1],
            **({"target": 100 * r["target"]} if r.get("target") is not None else {}),
        }
        for r in rows
        if r["rate"] is not None and r["ci95"]
    ]
    y = {"field": "label", "type": "nominal", "sort": None, "title": None}
    x_scale = {"domain": [0, 100]}
    spec: dict[str, Any] = {
        "title": title,
        "width": WIDTH,
        "height": {"step": 18},
        "data": {"values": data},
        "layer": [
            {
                "mark": {"type": "bar", "color": "#3b74c4", "height": 11},
                "encoding": {
                    "y": y,
                    "x": {"field": "rate", "type": "quantitative", "scale": x_scale, "title": "rate (%)"},
                },
            },
            {
                "mark": {"type": "rule", "color": "#111"},
                "encoding": {"y": y, "x": {"field": "low", "type": "quantitative"}, "x2": {"field": "high"}},
            },
            {
                "transform": [{"filter": "isValid(datum.target)"}],
                "mark": {"type": "tick", "color": "#c2410c", "thickness": 2, "size": 16},
                "encoding": {"y": y, "x": {"field": "target", "type": "quantitative"}},
            },
        ],
    }
    return render(spec)


def count_chart(rows: list[tuple[str, int]], title: str, x_title: str = "patients") -> str:
    """A horizontal bar chart of counts (label, count), in the given order."""
    spec = {
        "title": title,
        "width": WIDTH,
        "height": {"step": 18},
        "data": {"values": [{"label": label, "n": n} for label, n in rows]},
        "mark": {"type": "bar", "color": "#3b74c4", "height": 11},
        "encoding": {
            "y": {"field": "label", "type": "nominal", "sort": None, "title": None},
            "x": {"field": "n", "type": "quantitative", "title": x_title},
        },
    }
    return render(spec)


def change_chart(rows: list[dict[str, Any]], title: str) -> str:
    """Changes in rate (percentage points) with their 95% interval; a line at no change."""
    data = [
        {
            "label": r["label"],
            "change": 100 * r["change"],
            "low": 100 * r["ci95"][0],
            "high": 100 * r["ci95"][1],
            "significant": "significant" if r["significant"] else "not significant",
        }
        for r in rows
    ]
    y = {"field": "label", "type": "nominal", "sort": None, "title": None}
    spec = {
        "title": title,
        "width": WIDTH,
        "height": {"step": 18},
        "data": {"values": data},
        "layer": [
            {
                "mark": {"type": "rule", "color": "#111"},
                "encoding": {
                    "y": y,
                    "x": {"field": "low", "type": "quantitative", "title": "change (percentage points)"},
                    "x2": {"field": "high"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 50},
                "encoding": {
                    "y": y,
                    "x": {"field": "change", "type": "quantitative"},
                    "color": {
                        "field": "significant",
                        "type": "nominal",
                        "scale": {"domain": ["significant", "not significant"], "range": ["#a4161a", "#5b6574"]},
                        "legend": {"title": None, "orient": "bottom"},
                    },
                },
            },
            {
                "data": {"values": [{"x": 0}]},
                "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#888"},
                "encoding": {"x": {"field": "x", "type": "quantitative"}},
            },
        ],
    }
    return render(spec)
