"""Every Grafana dashboard query runs: ClickHouse SQL on the real server, PromQL through a real Prometheus.

ClickHouse targets are expanded like Grafana + grafana-clickhouse-datasource do
(``tests.support.grafana``) over a fresh, migrated database holding sample rows
inserted through :class:`~driftline.sinks.store.ClickHouseStore`, then must return rows
with the expected column names. Prometheus targets must parse and name only
metrics that ``driftline.sinks.metrics.WorkerMetrics`` defines (or recording rules of
``config/prometheus/rules.yml``).
"""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from driftline.sinks.metrics import WorkerMetrics
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store
from prometheus_client import CollectorRegistry

from tests.integration.samples import MODEL, VERSIONS, insert_samples
from tests.support.grafana import (
    TimeRange,
    expand_clickhouse_macros,
    expand_promql,
    interpolate_variables,
)
from tests.support.servers import PrometheusServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "grafana" / "dashboards"
RAW_TABLES = ("predictions", "feedback", "dead_letters")
NOW = datetime.now(UTC).replace(microsecond=0)
VARIABLES = {"model": MODEL, "version": list(VERSIONS)}


def load_builder():
    spec = importlib.util.spec_from_file_location("build_dashboards", ROOT / "grafana" / "build_dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILDER = load_builder()
BUILT = BUILDER.build()
EXPECTED = dict(BUILDER.EXPECTED_COLUMNS)


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def targets(kind: str) -> list[tuple[str, dict, dict]]:
    """(dashboard uid, panel, target) for every target of a data source type."""
    found = []
    for board in dashboards().values():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == kind:
                    found.append((board["uid"], panel, target))
    return found


def target_id(item) -> str:
    uid, panel, target = item
    return f"{uid}:{panel['title']}:{target['refId']}"


CH_TARGETS = targets("grafana-clickhouse-datasource")
PROM_TARGETS = targets("prometheus")


@pytest.fixture(scope="module")
def database(clickhouse):
    """A fresh database, migrated and filled with sample rows through the real store."""
    name = f"dash_{uuid.uuid4().hex[:10]}"
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/{name}")
    migrate(store)
    insert_samples(store, NOW)
    store.close()
    client = clickhouse.client(database=name)
    yield client
    client.execute(f"DROP DATABASE IF EXISTS {name}")
    client.disconnect()


def test_committed_json_is_what_the_builder_makes():
    assert sorted(BUILT) == sorted(dashboards()), "run: python grafana/build_dashboards.py"
    for name, board in BUILT.items():
        assert (DASHBOARDS / name).read_text() == BUILDER.render(board), f"{name} is stale: run the builder"


def test_dashboards_have_the_promised_panels_and_variables():
    boards = {b["uid"]: b for b in dashboards().values()}
    assert set(boards) == {"driftline-fleet", "driftline-model", "driftline-alerts", "driftline-health"}
    model = boards["driftline-model"]
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert set(variables) == {"model", "version"}
    assert all(v["type"] == "query" and v["datasource"]["uid"] == "clickhouse" for v in variables.values())
    titles = {p["title"] for p in model["panels"]}
    for wanted in ("Drift statistic per feature", "Performance per version", "Label coverage",
                   "Latency quantiles", "Missing rate per feature"):
        assert wanted in titles
    for board in boards.values():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{board['uid']}: duplicate panel ids"
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] in ("clickhouse", "prometheus")


def test_every_board_with_per_model_data_has_model_and_version_variables():
    for board in dashboards().values():
        names = [v["name"] for v in board["templating"]["list"]]
        assert "model" in names, board["uid"]
        for uid, panel, target in CH_TARGETS:
            if uid == board["uid"] and re.search(r"\bmodel\b", target["rawSql"]):
                assert "${model" in target["rawSql"] and "${version" in target["rawSql"], (uid, panel["title"])
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                if "model" in target.get("expr", "") and "by (model)" in target["expr"]:
                    assert '$model"' in target["expr"], (board["uid"], panel["title"])


def test_clickhouse_targets_follow_the_pinned_plugin_schema():
    compose = (ROOT / "docker-compose.yml").read_text()
    version = BUILDER.CH_PLUGIN_VERSION
    assert f"grafana-clickhouse-datasource {version}" in compose
    for _, panel, target in CH_TARGETS:
        assert target["pluginVersion"] == version
        assert target["queryType"] == ("table" if panel["type"] in ("table", "stat", "bargauge") else "timeSeries")


def test_every_clickhouse_target_has_expected_columns():
    keys = {(uid, panel["title"], target["refId"]) for uid, panel, target in CH_TARGETS}
    assert keys == set(EXPECTED)


@pytest.mark.parametrize("item", CH_TARGETS, ids=target_id)
def test_clickhouse_panels_never_scan_raw_events(item):
    _, _, target = item
    for table in RAW_TABLES:
        assert not re.search(rf"\bFROM\s+{table}\b", target["rawSql"]), f"panel reads raw table {table}"


@pytest.mark.parametrize("interval_s", [60, 3600])
@pytest.mark.parametrize("item", CH_TARGETS, ids=target_id)
def test_clickhouse_target_runs_and_returns_expected_columns(database, item, interval_s):
    uid, panel, target = item
    time_range = TimeRange(NOW - timedelta(days=7), NOW, interval_s)
    sql = expand_clickhouse_macros(interpolate_variables(target["rawSql"], VARIABLES), time_range)
    rows, columns = database.execute(sql, with_column_types=True)
    assert [name for name, _ in columns] == EXPECTED[(uid, panel["title"], target["refId"])], sql
    assert rows, f"no rows from the sample data:\n{sql}"
    if target["queryType"] == "timeSeries":
        assert columns[0] == ("time", "DateTime"), "time series need a DateTime `time` column first"
    if panel["type"] == "barchart":
        # Long rows (time, one label, values): the plugin pivots them into one column per label, which
        # the bar chart stacks at each time; a table-format query would draw one bar per row.
        assert target["queryType"] == "timeSeries" and target["format"] == 0, panel["title"]
        assert [t for _, t in columns[1:]].count("String") == 1, columns
        assert panel["options"]["xField"] == "time"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The same schema and rows in chdb: current ClickHouse, in process."""
    store = build_store(f"chdb://{tmp_path_factory.mktemp('dashboards-chdb')}/store")
    migrate(store)
    insert_samples(store, NOW)
    yield store
    store.close()


@pytest.mark.parametrize("item", CH_TARGETS, ids=target_id)
def test_clickhouse_target_runs_on_current_clickhouse(embedded, database, item):
    _, _, target = item
    time_range = TimeRange(NOW - timedelta(days=7), NOW, 3600)
    sql = expand_clickhouse_macros(interpolate_variables(target["rawSql"], VARIABLES), time_range)
    rows = embedded.execute(sql)
    assert len(rows) == len(database.execute(sql)), f"chdb and ClickHouse 18.16 disagree:\n{sql}"


def test_template_variable_queries_run(database):
    for board in dashboards().values():
        for variable in board["templating"]["list"]:
            sql = interpolate_variables(variable["query"], VARIABLES)
            values = [row[0] for row in database.execute(sql)]
            assert values, f"{board['uid']} ${variable['name']}: no values"
            assert set(values) <= {MODEL, "price", *VERSIONS}


# -- Prometheus ----------------------------------------------------------------------------------
def worker_metric_names() -> set[str]:
    names = set()
    for family in WorkerMetrics(CollectorRegistry()).registry.collect():
        if family.type == "counter":
            names |= {family.name + "_total", family.name + "_created"}
        elif family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_sum", "_count", "_created")}
        else:
            names.add(family.name)
    return names


def recording_rules() -> dict[str, str]:
    rules = yaml.safe_load((ROOT / "config" / "prometheus" / "rules.yml").read_text())
    return {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def metric_names(expr: str) -> set[str]:
    """Identifiers used as metric selectors: drop label matchers, strings and function names."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b[a-zA-Z_]\w*\s*\(", "(", expr)  # function calls
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    keywords = {"and", "or", "unless", "offset", "bool", "vector", "le", "inf", "nan"}
    return {n for n in names if n.lower() not in keywords and not n.isdigit()}


def test_recording_rules_use_only_worker_metrics():
    known = worker_metric_names()
    for name, expr in recording_rules().items():
        assert metric_names(expr) <= known, f"{name}: {metric_names(expr) - known}"


@pytest.mark.parametrize("item", PROM_TARGETS, ids=target_id)
def test_prometheus_target_names_only_worker_metrics(item):
    _, _, target = item
    expr = expand_promql(target["expr"], VARIABLES)
    unknown = metric_names(expr) - worker_metric_names() - set(recording_rules())
    assert not unknown, f"{target['expr']} names metrics sinks/metrics.py does not define: {unknown}"


@pytest.fixture(scope="module")
def prometheus():
    with PrometheusServer("global: {scrape_interval: 15s}\nscrape_configs: []\n") as server:
        yield server


def test_every_prometheus_target_parses(prometheus):
    assert PROM_TARGETS
    for uid, panel, target in PROM_TARGETS:
        expr = expand_promql(target["expr"], VARIABLES)
        data = prometheus.query(expr)  # raises with Prometheus's parse error
        assert data["resultType"] in ("vector", "scalar", "matrix"), (uid, panel["title"], expr)


def test_macro_expansion_helper_examples():
    import doctest

    import tests.support.grafana as helper

    assert doctest.testmod(helper).failed == 0
