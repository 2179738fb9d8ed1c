"""The dossier of the sample store (tests/integration/samples.py): its nine sections, what they say,
reproducibility and the content hash, the HTML and the command line (embedded store)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from driftline.cli.main import main
from driftline.report import SECTION_KEYS, build_dossier, render_html, verify_bytes
from driftline.report.canonical import canonical_json, config_hash, sha256_hex
from driftline.settings import parse_settings
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

from tests.integration.samples import insert_samples
from tests.support.stores import SAMPLE_NOW, sample_start_s, sample_store

MODEL = {"name": "credit", "features": {"income": "numeric", "age": "numeric", "country": "categorical"}}
FAIR = {**MODEL, "segments": {"keys": ["region"]}, "fairness": {"keys": ["region"]}}


@pytest.fixture(scope="module")
def dossiers(tmp_path_factory):
    """(plain, with fairness, v2 over the last day, twice the plain one) of the sample store."""
    with sample_store(tmp_path_factory.mktemp("store")) as store:
        # What CBPE (issue 15) writes: estimated metrics per window, beside the realized ones.
        first = datetime.fromtimestamp(sample_start_s(), UTC).replace(tzinfo=None)
        values = {"estimated_accuracy": [0.91, 0.9, 0.85], "estimated_accuracy_lower": [0.86, 0.85, 0.8],
                  "estimated_accuracy_upper": [0.96, 0.95, 0.9]}
        store.insert("window_metrics", {
            "model": ["credit"] * 9, "version": ["v1"] * 9,
            "window_start": [first + timedelta(hours=h) for _ in values for h in range(3)],
            "window_end": [first + timedelta(hours=h, minutes=1) for _ in values for h in range(3)],
            "metric": [m for m in values for _ in range(3)], "value": [v for vs in values.values() for v in vs],
            "n": [120] * 9})
        plain = parse_settings({"models": [MODEL]})
        fair = parse_settings({"models": [{**FAIR, "features": {**MODEL["features"], "region": "categorical"}}]})
        start = sample_start_s()
        built = (build_dossier(store, plain, "credit"), build_dossier(store, fair, "credit"),
               build_dossier(store, plain, "credit", version="v2", since_s=start + 48 * 3600, until_s=start + 70 * 3600),
               build_dossier(store, plain, "credit"),
               build_dossier(store, parse_settings({"models": [MODEL], "alerts": {"rules": [
                   {"name": "estimated-low", "kind": "performance", "severity": "warning", "action": "retrain",
                    "when": {"metric": "estimated_accuracy", "op": "<", "value": 0.95}}]}}), "credit", version="v1"))
    return built  # the store is closed: chdb opens one data directory per process


def test_nine_sections_in_order_and_nothing_silently_omitted(dossiers):
    plain, fair = dossiers[:2]
    assert [s["key"] for s in plain.content["sections"]] == list(SECTION_KEYS)
    bias = plain.section("bias")
    assert bias["status"] == "not_configured" and bias["note"].startswith("Bias analysis: not configured.")
    assert "fairness: {keys: [gender]}" in bias["note"]
    estimated = plain.section("performance")["estimated"]
    assert estimated["note"] == "" and [
        (m["version"], m["metric"], [p[1] for p in m["series"]], [p[1] for p in m["lower"]], [p[1] for p in m["upper"]])
        for m in estimated["metrics"]] == [("v1", "estimated_accuracy", [0.91, 0.9, 0.85], [0.86, 0.85, 0.8],
                                            [0.96, 0.95, 0.9])]
    assert {m["metric"] for m in plain.section("performance")["metrics"]} == {"accuracy", "f1"}
    assert fair.section("performance")["estimated"]["metrics"] == estimated["metrics"]
    assert dossiers[2].section("performance")["estimated"] == {"note": "estimated metrics: none recorded",
                                                                "metrics": []}
    (retrain,) = [r for r in dossiers[4].section("recommendations")["items"] if r["action"] == "retrain"]
    assert retrain["summary"] == ("retrain: estimated_accuracy below 0.95 in 3 of the last 3 windows "
                                  "(estimated before labels)")
    assert retrain["evidence"][0] == "rule estimated-low: estimated_accuracy < 0.95"
    (summary,) = [s for s in fair.section("bias")["summary"] if s["version"] == "v2"]
    assert (summary["key"], summary["measure"], summary["flagged_windows"], summary["windows"]) == (
        "region", "demographic_parity_ratio", 29, 70)


def test_what_the_sections_say(dossiers):
    plain, fair, recent = dossiers[:3]
    assert plain.content["period"] == {"from": "2026-03-01T12:00:00Z", "to": "2026-03-04T10:00:00Z"}
    top = plain.section("drift")["ranking"][0]
    assert (top["rank"], top["feature"], top["version"], top["drifted_windows"], top["windows"]) == (
        1, "income", "v2", 29, 70)
    below = plain.section("performance")["below_threshold"]
    # v2's accuracy is 0.7 + 0.001 h: under the default rule's 0.8 in all 70 hourly windows; v1's 0.9 never.
    assert below["windows"] == 70 and below["periods"] == [
        {"version": "v2", "metric": "accuracy", "rule": "accuracy-low", "from": "2026-03-01T12:00:00Z",
         "to": "2026-03-04T09:00:00Z", "windows": 70}]
    incidents = plain.section("incidents")
    # The experiment's verdict, the lifecycle it set, a change by hand, then two alerts' actions.
    assert [(a["at"], a["action"], a["source"]) for a in incidents["actions"]] == [
        ("2026-03-02T19:00:00Z", "rollback", "experiment credit-canary verdict rollback"),
        ("2026-03-02T19:00:00Z", "rolled_back", "lifecycle (by verdict:credit-canary)"),
        ("2026-03-03T04:00:00Z", "deactivated", "lifecycle (by cli:ops)"),
        ("2026-03-04T00:02:00Z", "deactivate", "alert performance (critical)"),
        ("2026-03-04T05:02:00Z", "retrain", "alert concept_drift (critical)")]
    assert incidents["acknowledgements"] == [{"at": "2026-03-03T04:00:00Z", "version": "v2", "state": "deactivated",
                                              "by": "cli:ops", "reason": "router updated"}]
    assert incidents["deliveries"] == [{"channel": "retrain", "attempts": 15, "failed": 3},
                                       {"channel": "slack", "attempts": 3, "delivered": 3}]
    items = {r["action"]: r for r in plain.section("recommendations")["items"]}
    # v2's accuracy is under the threshold in every window, but v2 was deactivated: nothing to retrain.
    assert "retrain" not in items
    assert items["investigate"]["summary"].startswith("investigate `income`: ks p 0.001 (alpha 0.1), drifted in 29 of 70")
    assert items["check producers"]["summary"] == "check producers: 10 dead letters"
    assert "review fairness" in {r["action"] for r in fair.section("recommendations")["items"]}
    assert recent.content["version"] == "v2" and recent.section("drift")["ranking"][0]["windows"] == 22
    assert {m["version"] for m in recent.section("performance")["metrics"]} == {"v2"}


def test_reproducible_bytes_and_the_content_hash(dossiers):
    plain, again = dossiers[0], dossiers[3]
    assert plain.to_json() == again.to_json() and render_html(plain) == render_html(again)
    assert plain.content_sha256 == sha256_hex(canonical_json(plain.content))
    assert json.loads(plain.to_json())["content_sha256"] == plain.content_sha256
    html = render_html(plain)
    assert verify_bytes(html)[0] and verify_bytes(plain.to_json())[0]
    tampered = html.replace(b"investigate `income`", b"investigate `age`", 1)
    assert b"investigate `age`" in tampered
    assert verify_bytes(html.replace(b'"feature":"income"', b'"feature":"incom3"', 1))[0] is False


def test_the_html_is_self_contained(dossiers):
    html = render_html(dossiers[0]).decode()
    assert html.count("<section ") == 9 and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html.replace(
        '<script type="application/json" id="dossier-content">', "")
    assert "@media print" in html and "<svg" in html


def test_config_hash_hides_secrets_and_follows_the_config():
    base = {"models": [MODEL], "metrics": {"token": "s3cret-one"},
            "alerts": {"channels": [{"type": "slack", "url": "https://hooks.slack.com/services/T/B/secret"}]}}
    other_token = {**base, "metrics": {"token": "s3cret-two"}}
    other_window = {**base, "models": [{**MODEL, "window": {"size": "5m"}}]}
    assert config_hash(parse_settings(base)) == config_hash(parse_settings(other_token))
    assert config_hash(parse_settings(base)) != config_hash(parse_settings(other_window))


def test_the_command_writes_html_and_json_and_verifies(tmp_path):
    config = tmp_path / "driftline.yaml"
    config.write_text(f"""
clickhouse: {{url: "chdb://{tmp_path}/store"}}
models:
  - {{name: credit, task: binary_classification, features: {{income: numeric, age: numeric, country: categorical}}}}
""")
    store = build_store(f"chdb://{tmp_path}/store")
    migrate(store)
    insert_samples(store, SAMPLE_NOW)
    store.close()
    runner = CliRunner()
    out, js = tmp_path / "out" / "dossier.html", tmp_path / "out" / "dossier.json"
    args = ["report", "--config", str(config), "--model", "credit", "--from", "2026-03-02", "--to", "2026-03-03",
            "--out", str(out), "--json", str(js)]
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    assert f"wrote {out}" in done.output and "(2026-03-02T00:00:00Z to 2026-03-03T00:00:00Z)" in done.output
    first = out.read_bytes(), js.read_bytes()
    assert runner.invoke(main, args).exit_code == 0 and (out.read_bytes(), js.read_bytes()) == first
    assert json.loads(js.read_bytes())["content"]["period"]["from"] == "2026-03-02T00:00:00Z"
    checked = runner.invoke(main, ["report", "--verify", str(out)])
    assert checked.exit_code == 0 and "ok (content SHA-256" in checked.output
    out.write_bytes(out.read_bytes().replace(b'"model":"credit"', b'"model":"debit"', 1))
    assert runner.invoke(main, ["report", "--verify", str(out)]).exit_code == 1
    scheduled = runner.invoke(main, ["report", "--config", str(config), "--model", "credit", "--last", "24h",
                                     "--out-dir", str(tmp_path / "weekly")])
    assert scheduled.exit_code == 0, scheduled.output
    stem = tmp_path / "weekly" / "credit-20260303T1000Z-20260304T1000Z"
    assert json.loads(stem.with_suffix(".json").read_bytes())["content"]["period"] == {
        "from": "2026-03-03T10:00:00Z", "to": "2026-03-04T10:00:00Z"}
    assert verify_bytes(stem.with_suffix(".html").read_bytes())[0]
    missing = runner.invoke(main, ["report", "--config", str(config), "--model", "nope", "--out", str(out)])
    assert missing.exit_code == 2 and "'nope' is not a configured model" in missing.output
    empty = runner.invoke(main, [*args[:5], "--from", "2020-01-01", "--to", "2019-01-01", "--out", str(out)])
    assert empty.exit_code == 1 and "the period is empty" in empty.output


def test_without_chromium_the_pdf_says_how_to_get_it(tmp_path, monkeypatch):
    from driftline.report import ChromiumMissing, find_chromium

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChromiumMissing, match="apt-get install chromium"):
        find_chromium()


def test_config_hash_is_the_same_in_every_process(tmp_path):
    """Channel filters are frozensets: their order must not follow the process's string hashes."""
    import subprocess
    import sys

    config = tmp_path / "driftline.yaml"
    config.write_text("""
models: [{name: credit, features: {income: numeric}}]
alerts:
  channels: [{type: webhook, url: "http://127.0.0.1:9/hook", actions: [retrain, rollback, promote, deactivate]}]
""")
    code = ("from driftline.settings import load_settings; from driftline.report.canonical import config_hash; "
            f"print(config_hash(load_settings({str(config)!r})))")
    hashes = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3, 4)}
    assert len(hashes) == 1 and len(hashes.pop().strip()) == 64
