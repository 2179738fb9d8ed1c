"""`driftline baseline` writes a profile that `reference: {profile: ...}` reads."""

import json

import numpy as np
from click.testing import CliRunner
from driftline.cli import main
from driftline.detectors import DriftSuite, ReferenceProfile, WindowSketch
from driftline.settings import parse_settings
from driftline.stream.reference_files import load_reference


def write_csv(path, n=500, seed=1):
    rng = np.random.default_rng(seed)
    lines = ["income,country,age"]
    for _ in range(n):
        lines.append(f"{rng.normal(50_000, 10_000):.2f},{rng.choice(['DE', 'FR', 'US'])},{rng.integers(18, 80)}")
    path.write_text("\n".join(lines) + "\n")


def test_baseline_without_config_infers_kinds_and_round_trips(tmp_path):
    data, out = tmp_path / "ref.csv", tmp_path / "credit.profile.json"
    write_csv(data)
    result = CliRunner().invoke(main, ["baseline", "--data", str(data), "--model", "credit", "--out", str(out)])
    assert result.exit_code == 0, result.output
    profile = ReferenceProfile.load(out)
    assert profile.n == 500
    assert profile.kinds == {"income": "numeric", "country": "categorical", "age": "numeric"}
    settings = parse_settings({"models": [{"name": "credit", "features": profile.kinds,
                                           "reference": {"profile": str(out)}}]})
    assert load_reference(settings.models[0]).to_dict() == profile.to_dict()


def test_baseline_with_config_uses_its_features_from_jsonl(tmp_path):
    data, out, config = tmp_path / "ref.jsonl", tmp_path / "p.json", tmp_path / "c.yaml"
    data.write_text("\n".join(json.dumps({"features": {"x": i * 0.5, "c": "ab"[i % 2], "ignored": "z"}})
                              for i in range(200)))
    config.write_text("models:\n  - name: m\n    features: {x: numeric, c: categorical}\n")
    result = CliRunner().invoke(main, ["baseline", "--data", str(data), "--model", "m", "--out", str(out),
                                       "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert ReferenceProfile.load(out).kinds == {"x": "numeric", "c": "categorical"}
    missing = CliRunner().invoke(main, ["baseline", "--data", str(data), "--model", "nope", "--out", str(out),
                                        "--config", str(config)])
    assert missing.exit_code == 2 and "'nope' is not in" in missing.output


def test_baseline_calibrates_the_auto_tests_once_and_the_worker_uses_the_saved_fits(tmp_path):
    data, out = tmp_path / "ref.csv", tmp_path / "credit.profile.json"
    write_csv(data)
    result = CliRunner().invoke(main, ["baseline", "--data", str(data), "--model", "credit", "--out", str(out),
                                       "--window-events", "500"])
    assert result.exit_code == 0, result.output
    assert "10 calibration fits" in result.output  # (2 numeric x 2 tests + 1) x the 2 ladder sizes around 500
    saved = json.loads(out.read_text())["calibration"]["fits"]
    settings = parse_settings({"models": [{"name": "credit", "features": {"income": "numeric", "country": "categorical",
                                                                         "age": "numeric"},
                                           "reference": {"profile": str(out)}}]})
    loaded = load_reference(settings.models[0])
    assert len(loaded.calibration) == 10
    w = WindowSketch(loaded)
    w.update({"income": np.full(450, 50_000.0), "country": np.array(["DE"] * 450, dtype=object),
              "age": np.full(450, 40.0)})
    results = DriftSuite(loaded, settings.models[0].drift).evaluate(w)
    assert all(r.drifted for r in results)  # a constant window is far from the reference
    assert len(loaded.calibration) == 10 and json.loads(out.read_text())["calibration"]["fits"] == saved  # no refit
