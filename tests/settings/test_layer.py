"""The settings layer sits just above ``detectors``, and it is the only code that reads YAML."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_settings_imports_only_detectors_of_driftline():
    for path in (ROOT / "settings").glob("*.py"):
        driftline = {m for m in imports(path) if m.startswith("driftline")}
        assert all(m == "driftline.detectors" or m.startswith("driftline.detectors.") for m in driftline), path


def test_only_settings_imports_yaml():
    readers = {str(path.relative_to(ROOT)) for folder in FOLDERS.values() for path in (ROOT / folder).glob("*.py")
               if "yaml" in imports(path)}
    assert readers == {"settings/config.py"}
