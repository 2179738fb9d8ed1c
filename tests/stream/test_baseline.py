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


# -- issue 18: the profile gives the worker everything its tests use --------------------------------------------

T0 = 1_795_600_800_000


def write_scored_csv(path, n=3000, seed=3):
    """Reference rows as a model's log exports them: features, then prediction and score (and fields that are not
    features: event_id, ts, label). Predictions are written as pandas writes an int column with gaps: 1.0."""
    rng = np.random.default_rng(seed)
    lines = ["event_id,ts,amount,has_cosigner,prediction,score,label"]
    rows = []
    for i in range(n):
        amount, cosigner = float(rng.lognormal(8, 1)), bool(rng.random() < 0.3)
        score = float(rng.random())
        rows.append({"amount": round(amount, 2), "has_cosigner": cosigner, "prediction": int(score > 0.5),
                     "score": round(score, 4)})
        lines.append(f"e{i},{T0 + i},{amount:.2f},{cosigner},{float(score > 0.5)},{score:.4f},{int(rng.random() < .5)}")
    path.write_text("\n".join(lines) + "\n")
    return rows


CONFIG = """
models:
  - name: loan
    task: {task}
    features: {{amount: numeric, has_cosigner: boolean}}
    reference: {{profile: loan.profile.json}}
    window: {{size: 10s, idle_close: 3s}}
"""


def baseline(*args):
    return CliRunner().invoke(main, ["baseline", *map(str, args)])


def windows_of(settings, rows):
    from driftline.stream.processor import BatchOutput, Processor
    from driftline.stream.wiring import build_references

    processor = Processor(settings, dict(build_references(settings)))
    state, out = processor.new_partition(0), BatchOutput()
    events = [(0, i, json.dumps({"event_id": f"e{i}", "model": "loan", "version": "v1", "ts": T0 + i * 10,
                                 "features": {"amount": r["amount"], "has_cosigner": r["has_cosigner"]},
                                 "prediction": r["prediction"], "score": r["score"]}).encode(), 0)
              for i, r in enumerate(rows)]
    processor.process(state, events, [], T0, out)
    processor.close_windows(state, T0 + 120_000, out)
    return [r for r in out.reports if r.n_predictions]


def test_baseline_with_config_profiles_prediction_and_score_as_the_worker_tests_them(tmp_path):
    rows = write_scored_csv(tmp_path / "ref.csv")
    config = tmp_path / "driftline.yaml"
    config.write_text(CONFIG.format(task="binary_classification"))
    result = baseline("--data", tmp_path / "ref.csv", "--model", "loan", "--out", tmp_path / "loan.profile.json",
                      "--config", config)
    assert result.exit_code == 0, result.output + result.stderr
    assert "has_cosigner (boolean)" in result.output and "prediction (categorical)" in result.output
    profile = ReferenceProfile.load(tmp_path / "loan.profile.json")
    assert profile.kinds == {"amount": "numeric", "has_cosigner": "categorical", "prediction": "categorical",
                             "score": "numeric"}
    assert set(profile.features["prediction"].categories) == {"0", "1"}  # "1.0" in the CSV is the class "1"
    # The worker, reading the profile from the config (relative to it), tests prediction with chi-square
    # and score like a feature, and identical data does not drift.
    from driftline.settings import load_settings

    windows = windows_of(load_settings(config), rows)
    tests = {(d.feature, d.test) for w in windows for d in w.drift}
    assert {("prediction", "chi2"), ("score", "wasserstein"), ("has_cosigner", "chi2"), ("amount", "wasserstein")} <= tests
    assert not [d for w in windows for d in w.drift if d.drifted]


def test_baseline_without_config_tests_prediction_as_a_class_unless_told_regression(tmp_path):
    write_scored_csv(tmp_path / "ref.csv", n=300)
    out = tmp_path / "p.json"
    result = baseline("--data", tmp_path / "ref.csv", "--model", "loan", "--out", out)
    assert result.exit_code == 0, result.output + result.stderr
    # event_id, ts and label are event fields, not features; prediction is a class for a classifier.
    assert ReferenceProfile.load(out).kinds == {"amount": "numeric", "has_cosigner": "categorical",
                                                "prediction": "categorical", "score": "numeric"}
    result = baseline("--data", tmp_path / "ref.csv", "--model", "loan", "--out", out, "--task", "regression")
    assert result.exit_code == 0, result.output + result.stderr
    assert ReferenceProfile.load(out).kinds == {"amount": "numeric", "has_cosigner": "categorical",
                                                "prediction": "numeric"}


def test_baseline_reads_events_as_sent_from_jsonl(tmp_path):
    data, out = tmp_path / "events.jsonl", tmp_path / "p.json"
    data.write_text("\n".join(json.dumps({"event_id": f"e{i}", "model": "m", "version": "v1", "ts": T0 + i,
                                          "features": {"x": i * 0.5, "c": "ab"[i % 2]}, "prediction": "ab"[i % 3 % 2],
                                          "score": 0.25}) for i in range(200)))
    result = baseline("--data", data, "--model", "m", "--out", out)
    assert result.exit_code == 0, result.output + result.stderr
    assert ReferenceProfile.load(out).kinds == {"x": "numeric", "c": "categorical", "prediction": "categorical",
                                                "score": "numeric"}


def test_a_file_without_prediction_gives_a_profile_without_it_and_says_so(tmp_path):
    data, out = tmp_path / "ref.csv", tmp_path / "p.json"
    write_csv(data, n=100)
    result = baseline("--data", data, "--model", "credit", "--out", out)
    assert result.exit_code == 0
    assert "no prediction column" in result.stderr
    assert "prediction" not in ReferenceProfile.load(out).kinds


def test_check_config_and_run_refuse_a_profile_the_worker_cannot_use(tmp_path):
    write_scored_csv(tmp_path / "ref.csv", n=300)
    config = tmp_path / "driftline.yaml"
    config.write_text(CONFIG.format(task="binary_classification"))
    # Built for a regression model: the prediction is numeric there, a class for this classifier.
    assert baseline("--data", tmp_path / "ref.csv", "--model", "loan", "--out", tmp_path / "loan.profile.json",
                    "--task", "regression").exit_code == 0
    for command in (["check-config", str(config)], ["run", "--config", str(config)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("models[0].reference.profile: ")
        assert "prediction is numeric there, categorical for this binary_classification model" in result.stderr
    # A profile without a feature of the model.
    (tmp_path / "small.csv").write_text("amount\n1\n2\n3\n")
    assert baseline("--data", tmp_path / "small.csv", "--model", "loan", "--out", tmp_path / "loan.profile.json",
                    ).exit_code == 0
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 2 and "(missing: has_cosigner)" in result.stderr, result.stderr
    # A reference file without a feature's column.
    config.write_text(CONFIG.format(task="binary_classification").replace("{profile: loan.profile.json}",
                                                                         "{path: small.csv}"))
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("models[0].reference.path: ") and "no column 'has_cosigner'" in result.stderr
def test_baseline_calibrates_the_auto_tests_once_and_the_worker_uses_the_saved_fits(tmp_path):
    data, out = tmp_path / "ref.csv", tmp_path / "credit.profile.json"
    write_csv(data)
    result = CliRunner().invoke(main, ["baseline", "--data", str(data), "--model", "credit", "--out", str(out),
                                       "--window-events", "500"])
    assert result.exit_code == 0, result.output
    # (2 numeric x 3 tests + 1) x (the 2 ladder sizes around 500 + the 2 around 1,000: two windows accumulated)
    assert "28 calibration fits" in result.output
    saved = json.loads(out.read_text())["calibration"]["fits"]
    settings = parse_settings({"models": [{"name": "credit", "features": {"income": "numeric", "country": "categorical",
                                                                         "age": "numeric"},
                                           "reference": {"profile": str(out)}}]})
    loaded = load_reference(settings.models[0])
    assert len(loaded.calibration) == 28
    w = WindowSketch(loaded)
    w.update({"income": np.full(450, 50_000.0), "country": np.array(["DE"] * 450, dtype=object),
              "age": np.full(450, 40.0)})
    results = DriftSuite(loaded, settings.models[0].drift).evaluate(w)
    assert {r.feature for r in results if r.drifted} == {"income", "country", "age"}  # a constant window is far off
    assert len(loaded.calibration) == 28 and json.loads(out.read_text())["calibration"]["fits"] == saved  # no refit
