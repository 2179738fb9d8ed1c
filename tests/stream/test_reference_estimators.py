"""Reference files and profiles with the model's outputs: `score`, `label` (and `prediction`)
columns give a classifier's profile its CBPE calibration; `estimate_performance` checks it."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from driftline.cli import main
from driftline.detectors import ReferenceProfile
from driftline.settings import parse_settings
from driftline.stream.reference_files import load_reference


def write_csv(path, n=500, seed=1):
    """Features only: no CBPE."""
    rng = np.random.default_rng(seed)
    lines = ["income,country"]
    for _ in range(n):
        lines.append(f"{rng.normal(0, 1):.4f},{rng.choice(['DE', 'FR'])}")
    path.write_text("\n".join(lines) + "\n")


def write_labelled_csv(path, n=2000, seed=2):
    """Features plus the model's outputs: an over-confident score, its prediction and the true label."""
    rng = np.random.default_rng(seed)
    lines = ["income,country,score,prediction,label"]
    for _ in range(n):
        income = rng.normal(0, 1)
        score = 1 / (1 + np.exp(-3 * income))
        label = int(rng.uniform() < 1 / (1 + np.exp(-1.5 * income)))
        lines.append(f"{income:.4f},{rng.choice(['DE', 'FR'])},{score:.4f},{int(score > 0.5)},{label}")
    path.write_text("\n".join(lines) + "\n")


def test_baseline_fits_cbpe_on_score_and_label_columns_and_the_profile_carries_it(tmp_path):
    data, out = tmp_path / "ref.csv", tmp_path / "p.json"
    write_labelled_csv(data)
    result = CliRunner().invoke(main, ["baseline", "--data", str(data), "--model", "m", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "CBPE calibration on 2000 scored, labelled rows" in result.output
    profile = ReferenceProfile.load(out)
    assert {"income": "numeric", "country": "categorical"}.items() <= profile.kinds.items()
    assert "label" not in profile.kinds  # the true label is never a feature
    assert profile.cbpe is not None and profile.cbpe.task == "binary_classification"
    # Over-confident scores are pulled towards the observed rate.
    assert 0.7 < float(profile.cbpe.calibration(np.array([0.95]))[0]) < 0.93
    assert set(profile.cbpe.spread) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
    # A profile without the field (written before CBPE) still loads; one with it round-trips.
    doc = json.loads(out.read_text())
    assert ReferenceProfile.from_dict({k: v for k, v in doc.items() if k != "cbpe"}).cbpe is None
    assert ReferenceProfile.from_dict(doc).to_dict() == doc


def test_a_reference_path_with_scores_and_labels_enables_cbpe_and_true_requires_them(tmp_path):
    scored, plain = tmp_path / "scored.csv", tmp_path / "plain.csv"
    write_labelled_csv(scored)
    write_csv(plain)
    spec = {"name": "m", "features": {"income": "numeric", "country": "categorical"}}
    auto = parse_settings({"models": [{**spec, "reference": {"path": str(scored)}}]}).models[0]
    assert load_reference(auto).cbpe is not None
    off = parse_settings({"models": [{**spec, "reference": {"path": str(plain)}}]}).models[0]
    assert load_reference(off).cbpe is None
    required = parse_settings({"models": [{**spec, "reference": {"path": str(plain)},
                                           "estimate_performance": True}]}).models[0]
    with pytest.raises(ValueError, match="estimate_performance is true but its reference has no"):
        load_reference(required)


def test_jsonl_reference_rows_carry_outputs_beside_nested_features(tmp_path):
    rng = np.random.default_rng(4)
    data = tmp_path / "ref.jsonl"
    rows = []
    for _ in range(500):
        x = float(rng.normal())
        score = float(1 / (1 + np.exp(-2 * x)))
        rows.append({"features": {"x": x}, "score": score, "prediction": "yes" if score > 0.5 else "no",
                     "label": "yes" if rng.uniform() < score else "no"})
    data.write_text("\n".join(json.dumps(r) for r in rows))
    spec = parse_settings({"models": [{"name": "m", "features": {"x": "numeric"}, "positive_label": "yes",
                                       "reference": {"path": str(data)}}]}).models[0]
    cbpe = load_reference(spec).cbpe
    assert cbpe is not None and cbpe.positive_label == "yes" and cbpe.n == 500


def test_a_regression_reference_with_prediction_and_label_gives_a_dle_loss_model(tmp_path):
    rng = np.random.default_rng(8)
    data, out = tmp_path / "ref.csv", tmp_path / "p.json"
    lines = ["sqft,city,prediction,label"]
    for _ in range(3000):
        sqft, city = rng.normal(100, 20), rng.choice(["a", "b"])
        noise = 5 + 20 * (city == "b")
        lines.append(f"{sqft:.1f},{city},{3 * sqft:.2f},{3 * sqft + rng.normal() * noise:.2f}")
    data.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["baseline", "--data", str(data), "--model", "m", "--out", str(out),
                                       "--task", "regression"])
    assert result.exit_code == 0, result.output
    assert "DLE loss model on 3000 labelled rows" in result.output
    profile = ReferenceProfile.load(out)
    assert profile.cbpe is None and set(profile.dle.bins) == {"sqft", "city", "prediction"}
    city = profile.dle.bins["city"]
    weights = dict(zip(city.categories, profile.dle.abs_weights["city"], strict=False))
    assert weights["b"] - weights["a"] > 10  # city b's errors are larger
    spec = {"name": "m", "task": "regression", "features": {"sqft": "numeric", "city": "categorical"},
            "reference": {"path": str(data)}, "estimate_performance": True}
    assert load_reference(parse_settings({"models": [spec]}).models[0]).dle is not None
    plain = tmp_path / "plain.csv"
    write_csv(plain)
    spec = {**spec, "features": {"income": "numeric", "country": "categorical"}, "reference": {"path": str(plain)}}
    with pytest.raises(ValueError, match="no DLE loss model"):
        load_reference(parse_settings({"models": [spec]}).models[0])


def test_a_multiclass_reference_needs_the_predicted_class_beside_its_confidence(tmp_path):
    from driftline.stream.reference_estimators import cbpe_from_file

    rng = np.random.default_rng(9)
    with_prediction, without = tmp_path / "with.csv", tmp_path / "without.csv"
    rows = []
    for _ in range(1000):
        confidence, predicted = rng.uniform(0.34, 1), rng.choice(["a", "b", "c"])
        label = predicted if rng.uniform() < confidence else "z"
        rows.append((confidence, predicted, label))
    with_prediction.write_text("score,prediction,label\n" + "\n".join(f"{s:.4f},{p},{y}" for s, p, y in rows))
    without.write_text("score,label\n" + "\n".join(f"{s:.4f},{y}" for s, _, y in rows))
    cbpe = cbpe_from_file(with_prediction, "multiclass_classification")
    assert cbpe is not None and cbpe.task == "multiclass_classification" and set(cbpe.spread) == {"accuracy"}
    assert cbpe_from_file(without, "multiclass_classification") is None
