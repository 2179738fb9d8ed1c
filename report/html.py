"""A dossier as one self-contained HTML file: inline CSS and SVG, no script, nothing from the network.

Every section is a ``<section data-section="KEY" data-status="...">`` with its ``<h2>``; a section
with no data says so and how to configure it. The document's content (the canonical JSON hashed
in the footer) is embedded in ``<script type="application/json" id="dossier-content">`` (data, not
code), so an auditor can check the file: hash that JSON's canonical form and compare it with the
footer (``driftline report --verify dossier.html`` does it). Prints well: ``@media print`` drops
the colours of the screen and starts each section on a new page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from .canonical import canonical_json
from .charts import bars, histogram, time_chart
from .dossier import Dossier

__all__ = ["render_html"]

MAX_ROWS = 200  # rows shown per table; the JSON holds all

CSS = """
:root { --ink: #1b1f24; --muted: #5c6670; --line: #d0d7de; --warn: #b35900; --bad: #b3261e; --ok: #1e7a3c; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 1000px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; border-bottom: 2px solid var(--ink);
     padding-bottom: 2px; margin-top: 32px; } h3 { font-size: 15px; margin: 16px 0 4px; }
.meta, .note, .empty, .axis, .legend { color: var(--muted); } .note { font-style: italic; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-not_configured h2::after, .status-empty h2::after { content: " (no data)"; color: var(--muted);
     font-weight: normal; font-size: 14px; }
.flag { color: var(--bad); font-weight: 600; } .okay { color: var(--ok); }
.chart { width: 100%; height: auto; max-height: 220px; } .frame { fill: none; stroke: var(--line); }
.threshold { stroke: var(--bad); stroke-dasharray: 4 3; } .axis, .legend { font-size: 10px; }
.rec { border-left: 4px solid var(--warn); padding: 4px 10px; margin: 8px 0; background: #fff8f0; }
.rec.no-action { border-color: var(--ok); background: #f2fbf4; } .rec ul { margin: 2px 0; }
.signoff td { height: 34px; } table.kv th { width: 28%; } footer { margin-top: 32px; border-top: 1px solid var(--line); padding-top: 8px;
     font-size: 12px; color: var(--muted); word-break: break-all; }
@media print { body { margin: 0; max-width: none; } section { break-before: page; }
  section:first-of-type { break-before: auto; } th { background: none; } .rec { background: none; }
  table, svg { break-inside: avoid; } }
"""


class _Raw(str):
    """Markup (an inline SVG) to put in a cell as it is."""


def _cell(value: Any) -> str:
    if isinstance(value, _Raw):
        return f"<td>{value}</td>"
    if value is None:
        return '<td class="empty">-</td>'
    if isinstance(value, bool):
        return f'<td class="{"flag" if value else "okay"}">{"yes" if value else "no"}</td>'
    if isinstance(value, int | float):
        return f'<td class="num">{value:g}</td>' if isinstance(value, float) else f'<td class="num">{value}</td>'
    return f"<td>{escape(str(value))}</td>"


def _table(headers: Sequence[str] | None, rows: Iterable[Sequence[Any]], *, cls: str = "") -> str:
    rows = list(rows)
    if not rows:
        return '<p class="empty">none</p>'
    more = f'<p class="meta">{len(rows) - MAX_ROWS} more rows in the JSON</p>' if len(rows) > MAX_ROWS else ""
    if headers is None:
        body = "".join(f"<tr><th>{escape(str(row[0]))}</th>{_cell(row[1])}</tr>" for row in rows)
        return f'<table class="kv {cls}"><tbody>{body}</tbody></table>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows[:MAX_ROWS])
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}'


def _kv(pairs: Iterable[tuple[str, Any]]) -> str:
    return _table(None, [(k, v) for k, v in pairs])


def _identity(s: dict) -> str:
    return (_kv([("model", s["model"]), ("version", s["version"]), ("task", s["task"]),
                 ("period", f"{s['period']['from']} to {s['period']['to']}"),
                 ("driftline version", s["driftline_version"]), ("config SHA-256", s["config_sha256"]),
                 ("reference", s["reference_source"]), ("reference profile SHA-256", s["reference_profile_sha256"])])
            + "<h3>Versions</h3>" + _table(("version", "state", "changed at", "by", "reason", "first seen", "last seen"),
                                           [(v["version"], v["state"], v["changed_at"], v["changed_by"], v["reason"],
                                             v["first_seen"], v["last_seen"]) for v in s["versions"]])
            + "<h3>Lifecycle</h3>" + _table(("at", "version", "state", "by", "reason"),
                                            [(c["at"], c["version"], c["state"], c["by"], c["reason"])
                                             for c in s["lifecycle"]])
            + ("<h3>Experiments</h3>" + _table(("name", "mode", "metric", "alpha"),
                                              [(e["name"], e["mode"], e["metric"], e["alpha"]) for e in s["experiments"]])
               if s["experiments"] else ""))


def _reference(s: dict) -> str:
    rows = []
    for f in s["features"]:
        ref = f["reference"] or {}
        if not ref:
            rows.append((f["name"], f["kind"], None, None, None, ""))
            continue
        counts = ref["counts"] + ([ref["other"]] if "other" in ref else [])
        summary = (f"mean {ref['mean']}, std {ref['std']}" if f["kind"] == "numeric"
                   else ", ".join(ref["categories"][:8]) + (" ..." if len(ref["categories"]) > 8 else ""))
        rng = f"{f['expected_range'][0]} to {f['expected_range'][1]}" if f["kind"] == "numeric" else \
            f"{len(ref['categories'])} categories"
        rows.append((f["name"], f["kind"], ref["n"], summary, rng, _Raw(histogram(counts, title=f["name"]))))
    table = _table(("feature", "kind", "reference n", "summary", "expected range", "histogram"), rows)
    m = s["monitoring"]
    return (table + "<h3>Monitoring settings</h3>"
            + _kv([("window", m["window"]), ("allowed lateness", m["allowed_lateness"]),
                   ("drift tests", json.dumps(m["drift"], sort_keys=True)),
                   ("quality thresholds", json.dumps(m["quality"], sort_keys=True)),
                   ("concept drift", json.dumps(m["concept"], sort_keys=True)),
                   ("multivariate", json.dumps(m["multivariate"], sort_keys=True)),
                   ("fairness", json.dumps(m["fairness"], sort_keys=True))])
            + f"<h3>Alert rules ({escape(s['alert_rules_source'])})</h3>"
            + _table(("name", "kind", "severity", "action", "when", "for windows"),
                     [(r["name"], r["kind"], r["severity"], r["action"], json.dumps(r["when"], sort_keys=True),
                       r["for_windows"]) for r in s["alert_rules"]]))


def _performance(s: dict) -> str:
    out = [_table(("version", "predictions", "labels"),
                  [(v, x["predictions"], x["labels"]) for v, x in s["volume"].items()])]
    by_metric: dict[str, list] = {}
    for m in s["metrics"]:
        by_metric.setdefault(m["metric"], []).append(m)
    for metric, items in by_metric.items():
        limits = [(t.split(" (")[0], float(t.split()[2])) for t in items[0]["thresholds"]]
        out.append(f"<h3>{escape(metric)}</h3>" + time_chart([(m["version"], m["series"]) for m in items],
                                                             title=metric, thresholds=limits))
    out.append(_table(("version", "metric", "windows", "mean", "min", "max", "thresholds"),
                      [(m["version"], m["metric"], m["windows"], m["mean"], m["min"], m["max"],
                        "; ".join(m["thresholds"])) for m in s["metrics"]]))
    below = s["below_threshold"]
    out.append(f'<h3>Windows below threshold: <span class="{"flag" if below["windows"] else "okay"}">'
               f'{below["windows"]}</span></h3>')
    out.append(_table(("version", "metric", "rule", "from", "to", "windows"),
                      [(p["version"], p["metric"], p["rule"], p["from"], p["to"], p["windows"])
                       for p in below["periods"]]))
    est = s["estimated"]
    out.append("<h3>Estimated metrics</h3>" + (f'<p class="note">{escape(est["note"])}</p>' if est["note"] else "")
               + "".join(f"<h3>{escape(m['metric'])} ({escape(m['version'])})</h3>" + time_chart(
                   [(m["metric"], m["series"]), ("lower", m["lower"]), ("upper", m["upper"])], title=m["metric"],
                   thresholds=[(t.split(" (")[0], float(t.split()[2])) for t in m["thresholds"]])
                   for m in est["metrics"]))
    out.append("<h3>Label coverage and latency</h3>" + _table(
        ("version", "label coverage", "lowest coverage", "latency p50 ms", "p95 ms", "p99 ms"),
        [(v, s["label_coverage"].get(v, {}).get("mean"), s["label_coverage"].get(v, {}).get("min"),
          s["latency_ms"].get(v, {}).get("latency_p50_ms"), s["latency_ms"].get(v, {}).get("latency_p95_ms"),
          s["latency_ms"].get(v, {}).get("latency_p99_ms")) for v in s["versions"]]))
    if s["latency_p95_series"]:
        out.append(time_chart(list(s["latency_p95_series"].items()), title="latency p95 (ms)"))
    return "".join(out)


def _events(items: list[dict]) -> str:
    return _table(("window", "version", "feature", "test", "statistic", "threshold"),
                  [(e["window_start"], e["version"], e["feature"], e["test"], e["statistic"], e["threshold"])
                   for e in items])


def _drift(s: dict) -> str:
    drifted = [r for r in s["ranking"] if r["drifted_windows"]]
    return (f'<p>{s["drifted_features"]} feature(s) drifted in the period.</p>'
            + bars([(f"{r['feature']} ({r['version']})", r["drifted_windows"]) for r in drifted[:20]],
                   title="drifted windows per feature", unit=" windows")
            + _table(("rank", "feature", "version", "test", "drifted / windows", "max statistic", "threshold",
                      "score", "first drifted", "last drifted"),
                     [(r["rank"], r["feature"], r["version"], r["test"], f"{r['drifted_windows']} / {r['windows']}",
                       r["max_statistic"], r["threshold"], r["score"], r["first_drifted"], r["last_drifted"])
                      for r in s["ranking"]])
            + "<h3>Prediction and multivariate drift</h3>"
            + _table(("version", "feature", "test", "drifted / windows", "max statistic", "threshold"),
                     [(r["version"], r["feature"], r["test"], f"{r['drifted_windows']} / {r['windows']}",
                       r["max_statistic"], r["threshold"]) for r in s["prediction_and_multivariate"]])
            + "<h3>Change points</h3>" + _events(s["change_points"])
            + "<h3>Concept drift (error stream)</h3>" + _events(s["concept_drift_events"]))


def _quality(s: dict) -> str:
    def rate(x: dict | None) -> Any:
        return None if x is None else f"{x['mean']:g} (max {x['max']:g})" + (" EXCEEDED" if x["exceeded"] else "")

    return (_kv([(f"max {k}", v) for k, v in s["thresholds"].items()])
            + _table(("version", "feature", "missing rate", "type errors", "out of range", "unseen"),
                     [(r["version"], r["feature"], rate(r["missing_rate"]), r["type_errors"],
                       rate(r["out_of_range_rate"]), rate(r["unseen_rate"])) for r in s["features"]])
            + f"<h3>Dead letters: {s['dead_letters_total']}</h3>"
            + _table(("topic", "reason", "count", "bytes"),
                     [(d["topic"], d["reason"], d["count"], d["bytes"]) for d in s["dead_letters"]]))


def _bias(s: dict) -> str:
    if s["status"] == "not_configured":
        return ""
    charts = "".join(time_chart([(f"{x['version']} {x['key']}", [p[:2] for p in x["points"]])],
                                title=f"{x['measure']} on {x['key']}") for x in s["series"][:12])
    return _table(("version", "key", "measure", "flagged / windows", "min", "max", "first", "last"),
                  [(x["version"], x["key"], x["measure"], f"{x['flagged_windows']} / {x['windows']}", x["min"],
                    x["max"], x["first_window"], x["last_window"]) for x in s["summary"]]) + charts


def _incidents(s: dict) -> str:
    return ("<h3>Actions</h3>" + _table(("at", "action", "version", "source", "detail"),
                                        [(a["at"], a["action"], a["version"], a["source"], a["detail"])
                                         for a in s["actions"]])
            + "<h3>Acknowledgements</h3>" + _table(("at", "version", "state", "by", "reason"),
                                                   [(a["at"], a["version"], a["state"], a["by"], a["reason"])
                                                    for a in s["acknowledgements"]])
            + f"<h3>Alerts ({len(s['alerts'])} state changes, {s['firing']} firing)</h3>"
            + _table(("at", "status", "kind", "severity", "action", "version", "summary"),
                     [(a["at"], a["status"], a["kind"], a["severity"], a["action"], a["version"], a["summary"])
                      for a in s["alerts"]])
            + "<h3>Deliveries per channel</h3>"
            + _table(("channel", "delivered", "failed", "attempts"),
                     [(d["channel"], d.get("delivered", 0), sum(n for k, n in d.items()
                                                                if k not in ("channel", "attempts", "delivered")),
                       d["attempts"]) for d in s["deliveries"]]))


def _recommendations(s: dict) -> str:
    return "".join(
        f'<div class="rec{" no-action" if r["action"] == "no action" else ""}" data-action="{escape(r["action"])}">'
        f'<strong>{escape(r["summary"])}</strong>' + (f" <span class=\"meta\">({escape(r['version'])})</span>"
                                                       if r["version"] else "")
        + "<ul>" + "".join(f"<li>{escape(e)}</li>" for e in r["evidence"][:12]) + "</ul></div>" for r in s["items"])


def _signoff(s: dict) -> str:
    rows = "".join(f"<tr><th>{escape(f['name'])}</th><td>" + (
        " / ".join(f"&#9744; {escape(c)}" for c in f["choices"]) if "choices" in f else "") + "</td></tr>"
        for f in s["fields"])
    return f'<table class="signoff">{rows}</table>'


RENDERERS = {"identity": _identity, "reference": _reference, "performance": _performance, "drift": _drift,
             "quality": _quality, "bias": _bias, "incidents": _incidents, "recommendations": _recommendations,
             "signoff": _signoff}


def render_html(dossier: Dossier) -> bytes:
    c = dossier.content
    which = "all versions" if c["version"] == "all" else f"version {c['version']}"
    title = f"Governance dossier: {c['model']} ({which})"
    sections = []
    for i, s in enumerate(c["sections"], 1):
        note = f'<p class="note">{escape(s["note"])}</p>' if s["note"] else ""
        sections.append(f'<section id="{s["key"]}" data-section="{s["key"]}" data-status="{s["status"]}" '
                        f'class="status-{s["status"]}"><h2>{i}. {escape(s["title"])}</h2>{note}'
                        f'{RENDERERS[s["key"]](s)}</section>')
    embedded = canonical_json(c).decode().replace("<", "\\u003c")
    generated = f" · generated {escape(dossier.generated_at)}" if dossier.generated_at else ""
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f'<header><h1>{escape(title)}</h1><p class="meta">Period {c["period"]["from"]} to {c["period"]["to"]} · '
            f'{len(c["sections"])} sections</p></header>{"".join(sections)}'
            f'<footer>Content SHA-256: <code id="content-sha256">{dossier.content_sha256}</code> · period '
            f'{c["period"]["from"]} to {c["period"]["to"]}{generated}<br>The SHA-256 is of the canonical JSON '
            f'embedded in this file (#dossier-content); `driftline report --verify FILE` recomputes it.</footer>'
            f'<script type="application/json" id="dossier-content">{embedded}</script></body></html>\n')
    return page.encode()
