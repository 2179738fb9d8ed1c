"""``python -m driftline.cli``: exit statuses and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from driftline.cli.entry import run
from driftline.stream.errors import WorkerError


@click.command()
def failing() -> None:
    raise WorkerError("the store holds schema 9, this build knows 3")


@click.command()
def crashing() -> None:
    raise RuntimeError("a bug")


def test_a_driftline_error_is_one_line_and_exit_status_1(capsys):
    with pytest.raises(SystemExit) as exited:
        run(failing, [])
    assert exited.value.code == 1
    assert capsys.readouterr().err == "the store holds schema 9, this build knows 3\n"


def test_other_errors_keep_their_traceback():
    with pytest.raises(RuntimeError, match="a bug"):
        run(crashing, [])


def test_python_m_driftline_cli(tmp_path):
    done = subprocess.run([sys.executable, "-m", "driftline.cli", "check-config", str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "missing.yaml" in done.stderr and "a readable file" in done.stderr
    config = tmp_path / "ok.yaml"
    config.write_text("models:\n  - name: m\n    features: {x: numeric}\n")
    done = subprocess.run([sys.executable, "-m", "driftline.cli", "check-config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"{config}: ok (1 model(s), 0 alert channel(s))"


def test_demo_names_its_extra_when_a_package_is_missing():
    from driftline.demo.cli import require_demo_extra

    with pytest.raises(click.ClickException, match=r"needs rich: pip install 'driftline\[demo\]'"):
        require_demo_extra(lambda module: None if module == "rich" else object())
    require_demo_extra(lambda module: object())
