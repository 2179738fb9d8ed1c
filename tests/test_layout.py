"""The repository layout and the installed package agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_python_folder_is_a_listed_driftline_subpackage():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        str(p.parent.relative_to(ROOT)) for p in ROOT.glob("*/**/__init__.py")
        if p.parent.relative_to(ROOT).parts[0] not in ("tests", "bench", ".venv", "build")
        and not any(part.startswith(".") for part in p.relative_to(ROOT).parts)
    }
    mapped = {folder for folder in project["package-dir"].values()}
    assert folders == mapped
    assert sorted(project["packages"]) == sorted(project["package-dir"])
    for package, folder in project["package-dir"].items():
        assert package == "driftline." + folder.replace("/", ".")


def test_every_package_readme_has_one_row_per_module():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for folder in {f.split("/")[0] for f in project["package-dir"].values()}:
        readme = (ROOT / folder / "README.md").read_text()
        for module in (ROOT / folder).rglob("*.py"):
            if module.name in ("__init__.py", "__main__.py"):
                continue
            name = module.relative_to(ROOT / folder).as_posix()
            assert readme.count(f"| `{name}` |") == 1, f"{folder}/README.md: one row for {name} in its module table"
