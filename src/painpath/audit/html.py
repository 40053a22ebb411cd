"""The audit's HTML report: one self-contained file (inline CSS and SVG, no scripts, no links out).

Charts: adherence per recommendation with 95% Wilson intervals, red-flag findings by urgency, PMP
decisions and settings, and the most common missing facts. Every bar links to an anchor in the
same page listing the first patients behind it with their explanation; the complete lists are in
``patients.csv`` (one column per measure), which the page links to by relative path.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from painpath.audit.measures import LABELS, POPULATIONS

MISSING_SHOWN = 20
_BAR_W = 360
_URGENCY_ORDER = ("emergency", "urgent", "soon", "routine", "none", "undetermined")
_POP_CODES = {v: k for k, v in POPULATIONS.items()}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#1d2430;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #d5dae1;padding-bottom:.2em}
.banner{background:#fff4ce;border:1px solid #e0c25a;padding:.6em 1em;margin:1em 0;font-weight:600}
.ok{color:#176b2c}.bad{color:#a4161a;font-weight:700}
table{border-collapse:collapse;margin:.5em 0;width:100%}td,th{padding:3px 6px;text-align:left;vertical-align:top}
tr:nth-child(even){background:#f5f7fa}th{background:#e8ecf1}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
svg{display:block}a{color:#174ea6}.bar{fill:#3b74c4}.bar:hover{fill:#1d4f98}.ci{stroke:#111;stroke-width:1.5}
.muted{color:#5b6574;font-size:.92em}.small{font-size:.85em}
"""


def _anchor(key: str) -> str:
    return "p-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in key)


def _bar(value: float, maximum: float, href: str, title: str, ci: list[float] | None = None) -> str:
    """One horizontal bar (value/maximum of the width) linking to ``#href`` (if any), with an optional interval."""
    width = 0.0 if maximum <= 0 else max(0.0, min(1.0, value / maximum)) * _BAR_W
    parts = [f'<svg width="{_BAR_W + 10}" height="18" role="img" aria-label="{escape(title)}">']
    rect = f'<title>{escape(title)}</title><rect class="bar" x="0" y="3" width="{width:.1f}" height="12"/>'
    parts.append(f'<a href="#{href}">{rect}</a>' if href else rect)
    if ci is not None:
        lo, hi = (max(0.0, min(1.0, c)) * _BAR_W for c in ci)
        parts.append(f'<line class="ci" x1="{lo:.1f}" x2="{hi:.1f}" y1="9" y2="9"/>')
        parts.append(f'<line class="ci" x1="{lo:.1f}" x2="{lo:.1f}" y1="5" y2="13"/>')
        parts.append(f'<line class="ci" x1="{hi:.1f}" x2="{hi:.1f}" y1="5" y2="13"/>')
    parts.append("</svg>")
    return "".join(parts)


def _count_chart(rows: list[tuple[str, int, str]], total: int) -> str:
    """A bar chart of patient counts: (label, count, sample key)."""
    biggest = max((n for _l, n, _k in rows), default=0)
    out = ['<table><tr><th>what</th><th></th><th class="num">patients</th><th class="num">%</th></tr>']
    for label, n, key in rows:
        pct = f"{100 * n / total:.1f}" if total else ""
        href = _anchor(key) if n else ""
        count = f'<a href="#{href}">{n}</a>' if n else "0"
        out.append(
            f"<tr><td>{escape(label)}</td><td>{_bar(n, biggest, href, f'{label}: {n} patients')}</td>"
            f'<td class="num">{count}</td><td class="num">{pct}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def _measure_chart(measures: list[dict[str, Any]]) -> str:
    pops = ("numerator", "not_met", "denominator_exception", "denominator_exclusion", "undetermined", "manual_review")
    head = "".join(f'<th class="num">{escape(LABELS["adherence"][_POP_CODES[p]])}</th>' for p in pops)
    out = [f'<table><tr><th>measure</th><th>rate and 95% interval (0-100%)</th><th class="num">rate</th>{head}</tr>']
    for m in measures:
        rate = m["rate"]
        label = "n/a" if rate is None else f"{100 * rate:.1f}%"
        ci = m["ci95"]
        title = f"{m['title']}: {label}" + (f" (95% CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f}%)" if ci else "")
        cells = "".join(
            f'<td class="num"><a href="#{_anchor(m["key"] + "|" + _POP_CODES[p])}">{m["populations"][p]}</a></td>'
            if m["populations"][p]
            else '<td class="num">0</td>'
            for p in pops
        )
        out.append(
            f"<tr><td><b>{escape(m['key'])}</b> {escape(m['title'])}"
            f'<div class="muted small">{escape(", ".join(m["cites"]))}'
            f"</div></td><td>{_bar(rate or 0.0, 1.0, _anchor(m['key'] + '|M') if rate else '', title, ci)}</td>"
            f'<td class="num">{label}</td>{cells}</tr>'
        )
    out.append("</table>")
    return "".join(out)


def _patient_lists(summary: dict[str, Any], samples: dict[str, list[tuple[int, str, str]]]) -> str:
    titles: dict[str, str] = {}
    totals: dict[str, int] = {}
    for m in summary["measures"]:
        for code, pop in POPULATIONS.items():
            key = f"{m['key']}|{code}"
            titles[key] = f"{m['key']} {m['title']}: {LABELS[m['kind']][code]}"
            totals[key] = m["populations"][pop]
    for section, prefix in (("highest_urgency", "urgency"),):
        for value, n in summary["red_flags"][section].items():
            titles[f"{prefix}|{value}"], totals[f"{prefix}|{value}"] = f"Red flags, highest urgency: {value}", n
    for section in ("status", "setting"):
        prefix = "pmp" if section == "status" else "setting"
        for value, n in summary["pmp"][section].items():
            titles[f"{prefix}|{value}"], totals[f"{prefix}|{value}"] = f"PMP {section}: {value}", n
    for item in summary["missing_facts"][:MISSING_SHOWN]:
        key = f"missing|{item['fact']}"
        titles[key], totals[key] = f"Missing fact: {item['fact']}", item["patients"]
    out = []
    for key, title in titles.items():
        rows = samples.get(key, [])
        if not rows:  # nothing links here: empty, or the absent findings (not sampled)
            continue
        out.append(f'<h3 id="{_anchor(key)}">{escape(title)}</h3>')
        out.append(
            f'<p class="muted">{len(rows)} of {totals[key]} patients shown; all of them are in '
            f'<a href="patients.csv">patients.csv</a>.</p>'
        )
        out.append('<table class="small"><tr><th>line</th><th>patient</th><th>explanation</th></tr>')
        out.extend(
            f'<tr><td class="num">{line}</td><td>{escape(pid)}</td><td>{escape(text)}</td></tr>'
            for line, pid, text in rows
        )
        out.append("</table>")
    return "".join(out)


def render_html(
    summary: dict[str, Any], samples: dict[str, list[tuple[int, str, str]]], rejected: list[tuple[int, str]]
) -> str:
    """The report page as a string."""
    rec = summary["records"]
    evaluated = rec["evaluated"]
    adherence = [m for m in summary["measures"] if m["kind"] == "adherence"]
    findings = [m for m in summary["measures"] if m["kind"] == "finding"]
    rs = summary["ruleset"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(summary['title'])}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(summary['title'])}</h1>",
        f"<p class='muted'>cohort {escape(summary['cohort'])} ({escape(summary['format'])}), audited "
        f"{escape(summary['audit_date'])}; ruleset {escape(rs['name'])} {escape(rs['version'])} "
        f"({escape(rs['content_hash'][:12])})</p>",
    ]
    if summary["synthetic"]:
        parts.append(
            "<div class='banner'>SYNTHETIC COHORT: every patient was generated by painpath synth. "
            "No real patient is described here; do not draw clinical conclusions.</div>"
        )
    cls = "ok" if rec["reconciled"] else "bad"
    parts.append(
        f"<p class='{cls}'>{escape(rec['statement'])}. "
        f"<a href='rejected.csv'>rejected.csv</a> lists each rejected record with its line and reason.</p>"
    )
    if rejected:
        parts.append('<table class="small"><tr><th>line</th><th>why the record was rejected</th></tr>')
        parts.extend(f'<tr><td class="num">{line}</td><td>{escape(why)}</td></tr>' for line, why in rejected)
        parts.append("</table>")
        if len(rejected) < rec["rejected"]:
            parts.append(f"<p class='muted'>The first {len(rejected)} of {rec['rejected']} rejected records.</p>")
    issues = summary.get("input_issues") or {}
    if issues.get("patients"):
        by_code = ", ".join(f"{escape(k)}: {v}" for k, v in issues["by_code"].items())
        parts.append(
            f"<p>{issues['patients']} records had input reported instead of used (FHIR mapping issues: "
            f"{by_code}); their affected facts count as not recorded.</p>"
        )
    decisions = ", ".join(f"{escape(k)}: {v}" for k, v in summary["decisions"].items())
    parts.append(
        f"<p>Decisions: {decisions or 'none'} (manual review: the two evaluators disagreed; nothing asserted).</p>"
    )
    parts.append("<h2>Adherence per recommendation</h2>")
    parts.append(
        "<p class='muted'>Rate = numerator / (denominator - exclusions - exceptions), with its 95% Wilson interval. "
        "Undetermined patients (facts missing) are outside the denominator and counted separately. "
        f"Exception: {escape(summary['exception_rule']['fact'])} recorded on a not-met recommendation. "
        "Each bar and count links to its patients.</p>"
    )
    parts.append(_measure_chart(adherence))
    parts.append("<h2>Red-flag findings by urgency</h2>")
    urg = summary["red_flags"]["highest_urgency"]
    parts.append(
        _count_chart(
            [(u, urg[u], f"urgency|{u}") for u in _URGENCY_ORDER if u in urg]
            + [(u, n, f"urgency|{u}") for u, n in urg.items() if u not in _URGENCY_ORDER],
            evaluated,
        )
    )
    screen = ", ".join(f"{escape(k)}: {v}" for k, v in summary["red_flags"]["screen"].items())
    parts.append(f"<p class='muted'>Red-flag screen status: {screen}.</p>")
    parts.append("<h3>Findings per rule</h3>")
    parts.append(
        _count_chart(
            [(f"[{m['urgency']}] {m['title']}", m["populations"]["numerator"], f"{m['key']}|M") for m in findings],
            evaluated,
        )
    )
    parts.append("<h2>Pain Management Programme decisions and settings</h2>")
    pmp = summary["pmp"]
    parts.append(_count_chart([(k, v, f"pmp|{k}") for k, v in pmp["status"].items()], evaluated))
    if pmp["setting"]:
        parts.append("<h3>Settings (recommended)</h3>")
        parts.append(_count_chart([(k, v, f"setting|{k}") for k, v in pmp["setting"].items()], evaluated))
    parts.append("<h2>Most common missing facts</h2>")
    parts.append(
        "<p class='muted'>Facts that would change the advice, by the number of patients whose record lacks them "
        "(all in <a href='missing_facts.csv'>missing_facts.csv</a>).</p>"
    )
    parts.append(
        _count_chart(
            [(m["fact"], m["patients"], f"missing|{m['fact']}") for m in summary["missing_facts"][:MISSING_SHOWN]],
            evaluated,
        )
    )
    parts.append("<h2>Patients</h2>")
    parts.append(_patient_lists(summary, samples))
    parts.append(
        "<p class='muted'>Tables: <a href='measures.csv'>measures.csv</a>, <a href='red_flags.csv'>red_flags.csv</a>, "
        "<a href='pmp.csv'>pmp.csv</a>; FHIR: <a href='measure-report-summary.json'>measure-report-summary.json</a>."
        "</p></body></html>"
    )
    return "".join(parts)


def write_html(
    summary: dict[str, Any],
    samples: dict[str, list[tuple[int, str, str]]],
    rejected: list[tuple[int, str]],
    out: Path,
) -> None:
    """Write ``report.html``."""
    (out / "report.html").write_text(render_html(summary, samples, rejected), encoding="utf-8")
