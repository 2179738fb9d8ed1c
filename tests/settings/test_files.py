"""Files a config names are read from the config file's directory, whatever the working directory,
and ``check-config`` reports one that is missing or unreadable with its key path (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from driftline.cli import main
from driftline.settings import ConfigError, load_settings, parse_settings

CONFIG = """
kafka:
  security: {{protocol: SSL, ssl_ca_location: {ca}}}
models:
  - name: loan
    features: {{amount: numeric}}
    reference: {{{source}: {reference}}}
"""


def write(directory: Path, *, reference: str = "ref/amounts.csv", source: str = "path", ca: str = "tls/ca.pem") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "driftline.yaml"
    config.write_text(CONFIG.format(reference=reference, source=source, ca=ca))
    return config


def make_files(directory: Path) -> None:
    (directory / "ref").mkdir(parents=True, exist_ok=True)
    (directory / "ref" / "amounts.csv").write_text("amount\n1\n2\n3\n")
    (directory / "tls").mkdir(exist_ok=True)
    (directory / "tls" / "ca.pem").write_text("a CA certificate\n")


def test_relative_paths_resolve_from_the_config_files_directory(tmp_path, monkeypatch):
    config = write(tmp_path / "etc" / "driftline")
    make_files(config.parent)
    monkeypatch.chdir(tmp_path)  # anywhere but the config's directory
    settings = load_settings(os.path.relpath(config))
    assert settings.models[0].reference_path == str(config.parent / "ref" / "amounts.csv")
    assert settings.kafka.security.ssl_ca_location == str(config.parent / "tls" / "ca.pem")
    # Absolute paths are kept; a mapping with no file behind it keeps what is written.
    absolute = write(tmp_path / "other", reference=str(config.parent / "ref" / "amounts.csv"),
                     ca=str(config.parent / "tls" / "ca.pem"))
    assert load_settings(absolute).models[0].reference_path == str(config.parent / "ref" / "amounts.csv")
    raw = {"models": [{"name": "m", "features": {"x": "numeric"}, "reference": {"path": "x.csv"}}]}
    assert parse_settings(raw).models[0].reference_path == "x.csv"


@pytest.mark.parametrize("source", ["path", "profile"])
def test_a_missing_or_unreadable_file_is_a_problem_naming_its_key(tmp_path, source):
    config = write(tmp_path, source=source, reference="absent.json", ca="tls")
    (tmp_path / "tls").mkdir()  # a directory is no file to read
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert [str(p) for p in info.value.problems] == [
        f"kafka.security.ssl_ca_location: 'tls' is invalid, expected a readable file ({tmp_path / 'tls'}: "
        "Is a directory)",
        f"models[0].reference.{source}: 'absent.json' is invalid, expected a readable file "
        f"({tmp_path / 'absent.json'}: No such file or directory)",
    ]
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [str(p) for p in info.value.problems]


def test_the_worker_exits_2_with_the_problem_instead_of_a_traceback(tmp_path):
    config = write(tmp_path / "conf", reference="ref/absent.csv")
    make_files(config.parent)
    workdir = tmp_path / "anywhere"
    workdir.mkdir()
    done = subprocess.run([sys.executable, "-m", "driftline.cli", "run", "--config", str(config)], cwd=workdir,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.startswith("models[0].reference.path: 'ref/absent.csv' is invalid, expected a readable file")
    assert "Traceback" not in done.stderr
    assert not (workdir / ".driftline").exists()  # it stopped before starting anything
