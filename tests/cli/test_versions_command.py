"""``driftline versions``: list the lifecycle, set a state by hand (embedded store)."""

from __future__ import annotations

from click.testing import CliRunner
from driftline.cli.main import main
from driftline.sinks.lifecycle import VersionRecord, VersionRows
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

T = 1_700_000_000


def test_list_and_set(tmp_path):
    config = tmp_path / "driftline.yaml"
    config.write_text(f"""
clickhouse: {{url: "chdb://{tmp_path}/store"}}
models:
  - {{name: credit, task: binary_classification, features: {{income: numeric}}}}
  - {{name: price, task: regression, features: {{sqft: numeric}}}}
""")
    store = build_store(f"chdb://{tmp_path}/store")
    migrate(store)
    store.insert("model_versions", VersionRows([
        VersionRecord("credit", "v1", "active", "first seen", "driftline", T * 1000, T * 1000, (T + 60) * 1000),
        VersionRecord("credit", "v2", "rolled_back", "accuracy: worse", "verdict:canary", (T + 30) * 1000, T * 1000,
                      (T + 60) * 1000),
        VersionRecord("price", "v7", "active", "first seen", "driftline", T * 1000, T * 1000, T * 1000)],
        now_s=T + 60).columns())
    store.close()
    runner = CliRunner()

    listed = runner.invoke(main, ["versions", "--config", str(config), "--model", "credit"])
    assert listed.exit_code == 0, listed.output
    header, v1, v2 = listed.output.splitlines()
    assert header.split()[:3] == ["MODEL", "VERSION", "STATE"]
    assert v2.split()[:3] == ["credit", "v2", "rolled_back"] and "verdict:canary" in v2 and v2.endswith("accuracy: worse")
    assert "2023-11-14 22:13:20" in v1  # first seen, UTC

    changed = runner.invoke(main, ["versions", "--config", str(config), "set", "credit", "v2", "deactivated",
                                   "--reason", "router off", "--by", "ops"])
    assert changed.exit_code == 0, changed.output
    assert changed.output.startswith("credit/v2: deactivated (by ops, ")
    everything = runner.invoke(main, ["versions", "--config", str(config)]).output.splitlines()
    assert [line.split()[:3] for line in everything[1:]] == [
        ["credit", "v1", "active"], ["credit", "v2", "deactivated"], ["price", "v7", "active"]]
    assert everything[2].endswith("router off") and " ops " in everything[2]

    wrong = runner.invoke(main, ["versions", "--config", str(config), "set", "nope", "v1", "active", "--reason", "x"])
    assert wrong.exit_code == 2 and "'nope' is not a configured model" in wrong.output
    bad = runner.invoke(main, ["versions", "--config", str(config), "set", "credit", "v1", "gone", "--reason", "x"])
    assert bad.exit_code == 2 and "'gone' is not one of" in bad.output
