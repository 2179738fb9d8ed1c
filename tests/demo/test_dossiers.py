"""The end of ``driftline demo``: a dossier per model with stored windows, one line for the others."""

from __future__ import annotations

from driftline.demo.dossiers import write_demo_dossiers
from driftline.report import verify_file
from driftline.settings import parse_settings

from tests.support.stores import sample_store


def test_a_dossier_per_model_with_windows(tmp_path, capsys):
    settings = parse_settings({"models": [{"name": "credit", "features": {"income": "numeric"}},
                                          {"name": "nobody", "features": {"x": "numeric"}}]})
    with sample_store(tmp_path / "store") as store:
        written = write_demo_dossiers(store, settings, tmp_path / "out")
    assert written == [tmp_path / "out" / "credit-dossier.html"]
    assert verify_file(written[0])[0] and verify_file(tmp_path / "out" / "credit-dossier.json")[0]
    out = capsys.readouterr().out
    assert f"governance dossier of credit: {written[0]}" in out
    assert "no dossier for nobody: no window of nobody in the store" in out
