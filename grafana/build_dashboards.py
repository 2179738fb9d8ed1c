"""Build driftline's Grafana dashboards as code: plain dicts -> ``grafana/dashboards/*.json``.

Run ``python grafana/build_dashboards.py`` after editing and commit the JSON;
``tests/integration/test_dashboards.py`` fails when the committed JSON is stale,
runs every ClickHouse query against a real server and parses every PromQL.

ClickHouse panels use the grafana-clickhouse-datasource macros
(``$__timeFilter``, ``$__dateFilter``, ``$__fromTime``, ``$__toTime``,
``$__interval_s``). Time buckets are built with ``intDiv(toUInt32(t), N) * N``
rather than ``toStartOfInterval`` so the SQL also runs on ClickHouse 18.16.
Panels over long ranges read the rollups of ``sinks/schema/0002_rollups.sql``
or the per-window tables, never raw predictions/feedback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CH = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
# The plugin version docker-compose.yml installs (GF_INSTALL_PLUGINS); its query schema is the one written here.
CH_PLUGIN_VERSION = "4.5.1"
PROM = {"type": "prometheus", "uid": "prometheus"}
OUT = Path(__file__).resolve().parent / "dashboards"

# (dashboard uid, panel title, refId) -> column names the query must return.
EXPECTED_COLUMNS: dict[tuple[str, str, str], list[str]] = {}

VERSIONS = "version IN (${version:singlequote})"
MODEL = "model = '${model}'"
MODELS = "model IN (${model:singlequote})"
# An experiment shows when either of its versions is selected.
ARMS = "(challenger IN (${version:singlequote}) OR champion IN (${version:singlequote}))"


def bucket(column: str, minimum: int = 1) -> str:
    """Grafana's interval as a time bucket, at least ``minimum`` seconds (the rollup grain)."""
    step = "$__interval_s" if minimum <= 1 else f"greatest($__interval_s, {minimum})"
    return f"toDateTime(intDiv(toUInt32({column}), {step}) * {step})"


class Board:
    def __init__(self, uid: str, title: str, description: str, *, variables=(), time_from="now-7d") -> None:
        self.uid, self.title, self.description = uid, title, description
        self.variables, self.time_from = list(variables), time_from
        self.panels: list[dict] = []
        self._x = self._y = 0

    def _grid(self, w: int, h: int) -> dict:
        if self._x + w > 24:
            self._x, self._y = 0, self._y + self._row_h
        pos = {"x": self._x, "y": self._y, "w": w, "h": h}
        self._x, self._row_h = self._x + w, h
        return pos

    def row(self, title: str) -> None:
        if self._x:
            self._x, self._y = 0, self._y + self._row_h
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
                            "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1}, "panels": []})
        self._y += 1

    def clickhouse(self, title: str, sql: str, columns: list[str], *, kind: str = "timeseries", w: int = 12,
                   h: int = 8, unit: str | None = None, description: str = "", interval: str | None = None) -> None:
        """A bar chart's query is a time series too: the plugin turns its long rows (time, label,
        value) into one column per label, so the chart draws one bar per label at each time, stacked."""
        table = kind in ("table", "stat", "bargauge")
        target = {"refId": "A", "datasource": CH, "editorType": "sql", "rawSql": _sql(sql),
                  "queryType": "table" if table else "timeSeries", "format": 1 if table else 0,
                  "pluginVersion": CH_PLUGIN_VERSION}
        EXPECTED_COLUMNS[(self.uid, title, "A")] = columns
        self._panel(title, kind, CH, [target], w, h, unit, description, interval)

    def prometheus(self, title: str, exprs: list[tuple[str, str]], *, kind: str = "timeseries", w: int = 12,
                   h: int = 8, unit: str | None = None, description: str = "") -> None:
        targets = [{"refId": chr(ord("A") + i), "datasource": PROM, "expr": expr, "legendFormat": legend,
                    "range": kind == "timeseries", "instant": kind != "timeseries"}
                   for i, (expr, legend) in enumerate(exprs)]
        self._panel(title, kind, PROM, targets, w, h, unit, description, None)

    def _panel(self, title, kind, datasource, targets, w, h, unit, description, interval) -> None:
        panel = {"id": len(self.panels) + 1, "type": kind, "title": title, "description": description,
                 "datasource": datasource, "gridPos": self._grid(w, h), "targets": targets,
                 "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []}, "options": {}}
        if interval:
            panel["interval"] = interval
        if kind == "timeseries":
            panel["options"] = {"legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max"]},
                                "tooltip": {"mode": "multi", "sort": "desc"}}
        elif kind == "barchart":
            panel["options"] = {"xField": "time", "stacking": "normal", "xTickLabelRotation": -45,
                                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                                "tooltip": {"mode": "multi", "sort": "desc"}}
        self.panels.append(panel)

    def to_json(self) -> dict:
        return {
            "uid": self.uid, "title": self.title, "description": self.description,
            "tags": ["driftline"], "timezone": "utc", "schemaVersion": 39, "version": 1, "editable": True,
            "graphTooltip": 1, "refresh": "1m", "time": {"from": self.time_from, "to": "now"},
            "templating": {"list": self.variables}, "annotations": {"list": []},
            "links": [{"type": "dashboards", "tags": ["driftline"], "asDropdown": True, "title": "driftline",
                       "includeVars": True, "keepTime": True}],
            "panels": self.panels,
        }


def _sql(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def ch_variable(name: str, sql: str, *, multi: bool = False, include_all: bool = False) -> dict:
    return {"name": name, "label": name, "type": "query", "datasource": CH, "query": _sql(sql),
            "definition": _sql(sql), "refresh": 2, "sort": 1, "multi": multi, "includeAll": include_all,
            "current": {}, "options": [], "hide": 0}


MODEL_VAR = ch_variable("model", "SELECT DISTINCT model FROM predictions_hourly ORDER BY model")
VERSION_VAR = ch_variable(
    "version", "SELECT DISTINCT version FROM predictions_hourly WHERE model = '${model}' ORDER BY version",
    multi=True, include_all=True)
MODELS_VAR = ch_variable("model", "SELECT DISTINCT model FROM predictions_hourly ORDER BY model",
                         multi=True, include_all=True)
VERSIONS_VAR = ch_variable(
    "version", "SELECT DISTINCT version FROM predictions_hourly WHERE model IN (${model:singlequote}) ORDER BY version",
    multi=True, include_all=True)


def fleet() -> Board:
    b = Board("driftline-fleet", "driftline / Fleet overview",
              "Every monitored model: versions, traffic, status and alerts.",
              variables=[MODELS_VAR, VERSIONS_VAR], time_from="now-7d")
    b.row("Now (Prometheus)")
    b.prometheus("Events per second", [("sum(driftline:events:rate1m)", "events/s")], kind="stat", w=6, h=4,
                 unit="ops")
    b.prometheus("Workers up", [("sum(driftline_worker_up)", "workers")], kind="stat", w=6, h=4)
    b.prometheus("Features drifting now", [("count(driftline_drift_detected == 1) or vector(0)", "features")],
                 kind="stat", w=6, h=4)
    b.prometheus("Consumer lag", [("sum(driftline_consumer_lag_messages)", "messages")], kind="stat", w=6, h=4,
                 unit="short")
    b.row("Models (ClickHouse)")
    b.clickhouse("Models and versions", f"""
        SELECT model, groupUniqArray(version) AS versions, sum(predictions) AS predictions,
               max(hour) AS last_hour
        FROM predictions_hourly
        WHERE $__timeFilter(hour) AND {MODELS} AND {VERSIONS}
        GROUP BY model
        ORDER BY model
    """, ["model", "versions", "predictions", "last_hour"], kind="table", w=12)
    b.clickhouse("Status by model and version", f"""
        SELECT model, version, if(countIf(last_status = 'firing') > 0, 'alerting', 'ok') AS status,
               countIf(last_status = 'firing') AS firing, max(last_change) AS last_change
        FROM (
            SELECT model, version, dedup_key, argMax(status, ts) AS last_status, max(ts) AS last_change
            FROM alerts FINAL
            WHERE $__timeFilter(window_start) AND {MODELS} AND {VERSIONS}
            GROUP BY model, version, dedup_key
        )
        GROUP BY model, version
        ORDER BY model, version
    """, ["model", "version", "status", "firing", "last_change"], kind="table", w=12,
        description="A model is alerting while any of its alerts' latest state is firing.")
    b.clickhouse("Predictions per model", f"""
        SELECT {bucket("hour", 3600)} AS time, model, sum(predictions) AS predictions
        FROM predictions_hourly
        WHERE $__timeFilter(hour) AND {MODELS} AND {VERSIONS}
        GROUP BY time, model
        ORDER BY time
    """, ["time", "model", "predictions"], w=12)
    b.clickhouse("Alerts fired per day by kind", f"""
        SELECT toDateTime(toDate(ts)) AS time, kind, count() AS alerts
        FROM alerts FINAL
        WHERE $__timeFilter(ts) AND status = 'firing' AND {MODELS} AND {VERSIONS}
        GROUP BY time, kind
        ORDER BY time
    """, ["time", "kind", "alerts"], kind="barchart", w=12)
    b.clickhouse("Drifted windows by model (daily rollup)", f"""
        SELECT model, version, sum(drifted_windows) AS drifted, sum(windows) AS total_windows,
               round(sum(drifted_windows) / greatest(sum(windows), 1), 4) AS drifted_share
        FROM drift_daily
        WHERE $__dateFilter(day) AND {MODELS} AND {VERSIONS}
        GROUP BY model, version
        ORDER BY drifted_share DESC
    """, ["model", "version", "drifted", "total_windows", "drifted_share"], kind="table", w=24,
        description="Aliases differ from column names: ClickHouse resolves an alias before a column.")
    return b


def model_detail() -> Board:
    b = Board("driftline-model", "driftline / Model detail",
              "Drift, performance, labels, latency and data quality of one model.",
              variables=[MODEL_VAR, VERSION_VAR], time_from="now-2d")
    b.row("Drift")
    b.clickhouse("Drift statistic per feature", f"""
        SELECT {bucket("window_start")} AS time, concat(feature, ' (', test, ')') AS series,
               max(statistic) AS statistic
        FROM drift_results
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(window_start)
        GROUP BY time, series
        ORDER BY time
    """, ["time", "series", "statistic"], w=16, interval="1m",
        description="One point per window (per bucket, the largest statistic); from the per-window table.")
    b.clickhouse("Drifted windows per feature (daily rollup)", f"""
        SELECT feature, sum(drifted_windows) AS drifted_windows, sum(windows) AS windows,
               round(maxMerge(statistic_max), 4) AS max_statistic
        FROM drift_daily
        WHERE {MODEL} AND {VERSIONS} AND $__dateFilter(day)
        GROUP BY feature
        ORDER BY drifted_windows DESC
    """, ["feature", "drifted_windows", "windows", "max_statistic"], kind="table", w=8)
    b.prometheus("Drift statistic now", [(
        'max by (feature, test) (driftline_drift_statistic{model="$model", version=~"$version"})',
        "{{feature}} ({{test}})")], kind="bargauge", w=12)
    b.clickhouse("Drifted share per day", f"""
        SELECT toDateTime(day) AS time, feature, sum(drifted_windows) / greatest(sum(windows), 1) AS drifted_share
        FROM drift_daily
        WHERE {MODEL} AND {VERSIONS} AND $__dateFilter(day)
        GROUP BY time, feature
        ORDER BY time
    """, ["time", "feature", "drifted_share"], w=12, unit="percentunit")
    b.prometheus("Concept drift events (error stream)", [(
        'sum by (detector, state) (increase(driftline_concept_drift_total{model="$model", version=~"$version"}'
        '[$__rate_interval]))', "{{detector}} {{state}}")], w=12,
        description="Concept-drift detector state changes; also in drift_results as feature error_stream.")
    b.row("Performance")
    b.clickhouse("Performance per version", f"""
        SELECT {bucket("hour", 3600)} AS time, concat(version, ' ', metric) AS series,
               sum(weighted_sum) / greatest(sum(samples), 1) AS value
        FROM window_metrics_hourly
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(hour)
          AND metric IN ('accuracy', 'f1', 'precision', 'recall', 'macro_f1', 'mae', 'rmse')
        GROUP BY time, series
        ORDER BY time
    """, ["time", "series", "value"], w=12,
        description="Window metrics weighted by each window's labelled events (hourly rollup).")
    b.clickhouse("Label coverage", f"""
        SELECT {bucket("hour", 3600)} AS time, version, sum(value_sum) / greatest(sum(windows), 1) AS coverage
        FROM window_metrics_hourly
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(hour) AND metric = 'label_coverage'
        GROUP BY time, version
        ORDER BY time
    """, ["time", "version", "coverage"], w=12, unit="percentunit")
    b.prometheus("Window metrics now", [(
        'driftline_window_metric{model="$model", version=~"$version", metric=~"accuracy|f1|mae|rmse"}',
        "{{version}} {{metric}}")], w=24)
    b.row("Traffic and latency")
    b.clickhouse("Latency quantiles", f"""
        SELECT time, q[1] AS p50, q[3] AS p95, q[4] AS p99
        FROM (
            SELECT {bucket("hour", 3600)} AS time,
                   quantilesTimingIfMerge(0.5, 0.9, 0.95, 0.99)(latency_quantiles) AS q
            FROM predictions_hourly
            WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(hour)
            GROUP BY time
        )
        ORDER BY time
    """, ["time", "p50", "p95", "p99"], w=12, unit="ms")
    b.clickhouse("Predictions and mean score per version", f"""
        SELECT {bucket("hour", 3600)} AS time, version, sum(predictions) AS predictions,
               sum(score_sum) / greatest(sum(score_count), 1) AS mean_score
        FROM predictions_hourly
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(hour)
        GROUP BY time, version
        ORDER BY time
    """, ["time", "version", "predictions", "mean_score"], w=12)
    b.row("Experiments")
    b.clickhouse("Experiment interval: challenger minus champion", f"""
        SELECT {bucket("window_start")} AS time, concat(experiment, ' ', challenger, ' ', metric) AS series,
               avg(estimate) AS difference, min(lower) AS interval_lower, max(upper) AS interval_upper
        FROM experiment_verdicts
        WHERE {MODEL} AND {ARMS} AND $__timeFilter(window_start) AND isNotNull(estimate)
        GROUP BY time, series
        ORDER BY time
    """, ["time", "series", "difference", "interval_lower", "interval_upper"], w=12, interval="1m",
        description="The always-valid interval of each comparison per window, narrowing as labels come in; "
                    "a verdict is taken when it leaves zero behind (or a guardrail's limit).")
    b.clickhouse("Experiment verdicts", f"""
        SELECT experiment, champion, challenger, argMax(verdict, window_start) AS verdict,
               argMax(action, window_start) AS action, argMax(n_champion, window_start) AS n_champion,
               argMax(n_challenger, window_start) AS n_challenger, max(window_end) AS last_window,
               argMax(reason, window_start) AS reason
        FROM experiment_verdicts FINAL
        WHERE {MODEL} AND {ARMS} AND $__timeFilter(window_start)
        GROUP BY experiment, champion, challenger
        ORDER BY experiment, challenger
    """, ["experiment", "champion", "challenger", "verdict", "action", "n_champion", "n_challenger", "last_window",
          "reason"], kind="table", w=12)
    b.clickhouse("Version lifecycle", f"""
        SELECT version, argMax(state, changed_at) AS current_state, argMax(changed_by, changed_at) AS set_by,
               max(changed_at) AS set_at, max(last_seen) AS seen_last, argMax(reason, changed_at) AS why
        FROM model_versions FINAL
        WHERE {MODEL} AND {VERSIONS}
        GROUP BY version
        ORDER BY version
    """, ["version", "current_state", "set_by", "set_at", "seen_last", "why"], kind="table", w=24,
        description="Each version's state (active, canary, shadow, promoted, rolled_back, deactivated), who set "
                    "it (a verdict, an acknowledged webhook, the CLI) and when its predictions were last seen.")
    b.row("Data quality")
    b.clickhouse("Missing rate per feature", f"""
        SELECT {bucket("hour", 3600)} AS time, replaceOne(metric, 'missing_rate:', '') AS feature,
               sum(value_sum) / greatest(sum(windows), 1) AS missing_rate
        FROM window_metrics_hourly
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(hour) AND startsWith(metric, 'missing_rate:')
        GROUP BY time, feature
        ORDER BY time
    """, ["time", "feature", "missing_rate"], w=12, unit="percentunit")
    b.clickhouse("Type errors per feature", f"""
        SELECT replaceOne(metric, 'type_errors:', '') AS feature, sum(value_sum) AS type_errors
        FROM window_metrics_hourly
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(hour) AND startsWith(metric, 'type_errors:')
        GROUP BY feature
        ORDER BY type_errors DESC
    """, ["feature", "type_errors"], kind="table", w=12)
    segments(b)
    return b


def segments(b: Board) -> None:
    """Segments and fairness of the model detail board (models with ``segments:`` / ``fairness:``)."""
    b.row("Segments and fairness")
    b.clickhouse("Worst segments", f"""
        SELECT segment_key, segment_value, metric, round(sum(value * n) / greatest(sum(n), 1), 4) AS weighted,
               sum(n) AS labelled
        FROM segment_metrics FINAL
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(window_start) AND metric IN ('accuracy', 'mae')
          AND segment_value != '__other__'
        GROUP BY segment_key, segment_value, metric
        ORDER BY if(metric = 'mae', -weighted, weighted)
        LIMIT 50
    """, ["segment_key", "segment_value", "metric", "weighted", "labelled"], kind="table", w=10,
        description="Each segment group's accuracy (or MAE), weighted by its labelled rows; worst first.")
    b.clickhouse("Segment accuracy over time", f"""
        SELECT {bucket("window_start")} AS time, concat(segment_key, '=', segment_value) AS series,
               sum(value * n) / greatest(sum(n), 1) AS accuracy
        FROM segment_metrics FINAL
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(window_start) AND metric = 'accuracy'
        GROUP BY time, series
        ORDER BY time
    """, ["time", "series", "accuracy"], w=14, interval="1m")
    b.clickhouse("Fairness measures per window", f"""
        SELECT {bucket("window_start")} AS time, concat(sensitive_key, ' ', measure) AS series, avg(value) AS measure_value
        FROM fairness_results FINAL
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(window_start)
        GROUP BY time, series
        ORDER BY time
    """, ["time", "series", "measure_value"], w=12, interval="1m",
        description="Demographic parity ratio (four-fifths rule: alert below 0.8) and the other gaps, per window.")
    b.clickhouse("Flagged fairness windows", f"""
        SELECT sensitive_key, measure, countIf(flagged = 1) AS flagged_windows, count() AS windows,
               round(min(value), 4) AS lowest, round(max(value), 4) AS highest, anyLast(worst_group) AS last_worst
        FROM fairness_results FINAL
        WHERE {MODEL} AND {VERSIONS} AND $__timeFilter(window_start)
        GROUP BY sensitive_key, measure
        ORDER BY flagged_windows DESC
    """, ["sensitive_key", "measure", "flagged_windows", "windows", "lowest", "highest", "last_worst"],
        kind="table", w=12)
    b.prometheus("Fairness now", [(
        'driftline_fairness_measure{model="$model", version=~"$version"}', "{{version}} {{key}} {{measure}}")],
        kind="bargauge", w=24)


def alerts_timeline() -> Board:
    b = Board("driftline-alerts", "driftline / Alerts timeline",
              "Every alert state change and its deliveries.", variables=[MODELS_VAR, VERSIONS_VAR],
              time_from="now-30d")
    b.clickhouse("Alerts by kind", f"""
        SELECT {bucket("ts", 3600)} AS time, kind, count() AS alerts
        FROM alerts FINAL
        WHERE $__timeFilter(ts) AND {MODELS} AND {VERSIONS} AND status = 'firing'
        GROUP BY time, kind
        ORDER BY time
    """, ["time", "kind", "alerts"], kind="barchart", w=16)
    b.clickhouse("Alerts by kind and severity", f"""
        SELECT kind, severity, countIf(status = 'firing') AS fired, countIf(status = 'resolved') AS resolved
        FROM alerts FINAL
        WHERE $__timeFilter(ts) AND {MODELS} AND {VERSIONS}
        GROUP BY kind, severity
        ORDER BY fired DESC
    """, ["kind", "severity", "fired", "resolved"], kind="table", w=8)
    b.clickhouse("Alert log", f"""
        SELECT ts AS time, model, version, kind, severity, status, action, feature, summary
        FROM alerts FINAL
        WHERE $__timeFilter(ts) AND {MODELS} AND {VERSIONS}
        ORDER BY ts DESC
        LIMIT 500
    """, ["time", "model", "version", "kind", "severity", "status", "action", "feature", "summary"],
        kind="table", w=24, h=12)
    b.clickhouse("Deliveries by channel", """
        SELECT channel, status, count() AS deliveries, sum(attempts) AS attempts, max(ts) AS last_attempt
        FROM alert_deliveries FINAL
        WHERE $__timeFilter(ts)
        GROUP BY channel, status
        ORDER BY channel, status
    """, ["channel", "status", "deliveries", "attempts", "last_attempt"], kind="table", w=12)
    b.prometheus("Delivery results", [(
        "sum by (channel, result) (rate(driftline_alert_deliveries_total[$__rate_interval]))",
        "{{channel}} {{result}}")], w=12, unit="ops")
    return b


def service_health() -> Board:
    b = Board("driftline-health", "driftline / Service health",
              "Throughput, lag, errors and flush times of the workers.", variables=[MODELS_VAR],
              time_from="now-6h")
    b.row("Throughput and lag")
    b.prometheus("Events per second", [("sum by (stream) (driftline:events:rate1m)", "{{stream}}")], unit="ops")
    b.prometheus("Consumer lag", [("sum by (topic) (driftline_consumer_lag_messages)", "{{topic}}")],
                 unit="short")
    b.prometheus("Batch processing time p99", [("driftline:batch_duration_seconds:p99_5m", "{{stage}}")], unit="s")
    b.prometheus("Window close lag p95", [('driftline:window_close_lag_seconds:p95_5m{model=~"$model"}', "{{model}}")],
                 unit="s")
    b.row("ClickHouse")
    b.prometheus("Insert time p99", [("driftline:clickhouse_insert_duration_seconds:p99_5m", "{{table}}")], unit="s")
    b.prometheus("Rows inserted per second", [("driftline:clickhouse_insert_rows:rate1m", "{{table}}")], unit="ops")
    b.prometheus("Insert errors", [("sum by (table) (rate(driftline_clickhouse_insert_errors_total[$__rate_interval]))",
                                    "{{table}}")], unit="ops")
    b.prometheus("Buffered rows and backpressure", [
        ("sum(driftline_buffered_rows)", "buffered"), ("max(driftline_buffered_rows_cap)", "cap"),
        ("sum(driftline_consumer_paused)", "paused workers")])
    b.row("Checkpoints, join and errors")
    b.prometheus("Checkpoint time p99", [(
        "histogram_quantile(0.99, sum by (le) (rate(driftline_checkpoint_duration_seconds_bucket[$__rate_interval])))",
        "p99")], unit="s")
    b.prometheus("Checkpoints", [("sum by (result) (rate(driftline_checkpoints_total[$__rate_interval]))",
                                  "{{result}}")], unit="ops")
    b.prometheus("Label join pending", [("sum by (side) (driftline_join_pending)", "{{side}}")])
    b.prometheus("Dead letters and late events", [
        ("driftline:dead_letters:rate5m", "dead letters: {{reason}}"),
        ('sum by (model) (rate(driftline_late_events_total{model=~"$model"}[$__rate_interval]))', "late: {{model}}"),
        ("sum by (topic) (increase(driftline_broker_offset_resets_total[$__rate_interval]))", "offset resets: {{topic}}")],
        unit="ops")
    b.clickhouse("Dead letters per day (rollup)", """
        SELECT toDateTime(day) AS time, reason, sum(dead_letters) AS dead_letters
        FROM dead_letters_daily
        WHERE $__dateFilter(day)
        GROUP BY time, reason
        ORDER BY time
    """, ["time", "reason", "dead_letters"], kind="barchart", w=24)
    return b


BOARDS = (fleet, model_detail, alerts_timeline, service_health)
FILES = {"driftline-fleet": "fleet.json", "driftline-model": "model.json",
         "driftline-alerts": "alerts.json", "driftline-health": "health.json"}


def build() -> dict[str, dict]:
    """File name -> dashboard JSON."""
    EXPECTED_COLUMNS.clear()
    return {FILES[board.uid]: board.to_json() for board in (make() for make in BOARDS)}


def render(dashboard: dict) -> str:
    return json.dumps(dashboard, indent=2, sort_keys=True) + "\n"


def main(out: Path = OUT) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name, dashboard in build().items():
        (out / name).write_text(render(dashboard), encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
